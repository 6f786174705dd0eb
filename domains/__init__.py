"""Domain packages. Each registers through the `polyrlaif.domains` entry-point group."""
