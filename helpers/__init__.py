"""What students import: data, fast kernels, training loops, plots, widgets and the test-cell toolkit."""
