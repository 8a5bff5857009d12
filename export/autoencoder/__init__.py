"""The exported autoencoder at run time: trackers, encoder, harmonic decoder, streaming, latent banks, morph targets."""
