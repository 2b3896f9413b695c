"""Moving battles in and out of the vote log: export (JSONL, Parquet, FastChat's
clean_battle) in export.py and its format modules, import in importer.py."""
