"""Query -> hits: the query read once, candidates from each index, fusion, a second stage, and what
researchers do with the hits (highlights, facets, phrase timelines, export, evaluation)."""
