"""Processing chain: neural stages beside pedalboard effects and VST3 plugins, presets, stems."""
