"""Defaults of the io package that other parts of the app show or pass on (standard library only,
so the command-line parser can read them without loading pandas)."""

# Rows per chunk when a table is streamed (`triage classify`): the 100,000-row classify peak RSS
# in BENCHMARKS.md (332 MB) was measured with this value.
DEFAULT_CHUNK_ROWS = 5_000
