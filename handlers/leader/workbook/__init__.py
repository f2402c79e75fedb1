"""The leaders' Excel workbook: its data, its sheets, its words, how it prints and files, where it is built."""
