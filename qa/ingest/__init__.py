"""Files -> documents -> passages: reading, cleaning, metadata, splitting, and the ingest pipeline that
embeds the passages and hands them to a collection."""
