"""One parser per file format kerasrnn reads: delimited text, .npz archives, IDX."""
