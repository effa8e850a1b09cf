"""Turn documents into a searchable Chroma index: clean → sections → chunks → vectors."""
