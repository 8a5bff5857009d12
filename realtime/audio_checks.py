"""Doctor checks for the live engine: PortAudio (via sounddevice), its JACK support, the JACK server."""

from __future__ import annotations

import shutil
import subprocess

from export.app.doctor import Check

APT_FIX = "sudo apt-get install libportaudio2 jackd2"


def _portaudio_check() -> tuple[Check, str | None]:
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        return Check("portaudio", False, f"sounddevice cannot load PortAudio ({exc})",
                     fix=f"{APT_FIX}; pip install sounddevice"), None
    hostapis = ", ".join(h["name"] for h in sd.query_hostapis())
    return Check("portaudio", True, f"{sd.get_portaudio_version()[1]}; host APIs now: {hostapis}"), sd._libname


def _portaudio_links_jack(libname: str) -> bool:
    """PortAudio lists its JACK host API only while a server runs, so look at what the library links."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    listing = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout
    lib_paths = [line.split("=>")[-1].strip() for line in listing.splitlines() if libname in line]
    return any("libjack" in subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
               for lib in lib_paths)


def checks() -> list[Check]:
    portaudio, libname = _portaudio_check()
    result = [portaudio]
    if libname is not None:
        has_jack = _portaudio_links_jack(libname)
        result.append(Check("portaudio jack support", has_jack,
                            "PortAudio is built with the JACK host API" if has_jack
                            else "this PortAudio has no JACK host API", fix=APT_FIX))
    jackd = shutil.which("jackd")
    version = ""
    if jackd:
        out = subprocess.run([jackd, "--version"], capture_output=True, text=True, timeout=10)
        version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    result.append(Check("jack server", jackd is not None, f"{jackd} ({version})" if jackd else "jackd not found",
                        fix="sudo apt-get install jackd2"))
    return result
