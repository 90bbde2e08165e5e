"""Where objects come from: files and standard input (I/O edge)."""
