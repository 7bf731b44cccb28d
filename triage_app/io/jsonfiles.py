"""Readers for ``.json`` and ``.jsonl``/``.ndjson`` (optionally ``.gz``).

* ``.json``: an array of records, an Elasticsearch-style ``{"hits": {"hits": [...]}}`` or
  ``{"records"/"data"/...: [...]}``; an array without its closing bracket keeps the complete
  records before the cut.
* ``.jsonl``: one object per line; read twice (first for the union of the keys).
* Nested objects are flattened with ``"."`` (e.g. ``_source.product``); lists become JSON text;
  numbers stay as written (``1`` is ``"1"``, never ``1.0``).
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from .errors import table_error
from .sniff import open_read, text_preflight
from .source import Source


class JsonlSource(Source):
    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        self.codec, self.errors = text_preflight(p, head, report)
        # first pass: the union of (flattened) keys, so every chunk has the same columns
        keys: dict[str, None] = {}
        for _line, obj, _problem in self._iter_objects(quiet=True):
            if obj is not None:
                keys.update(dict.fromkeys(obj))
        if not keys:
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise table_error(p, "has no JSON records (every non-blank line must be a JSON object)")
        self.columns = list(keys)
        self.truncated_line = None

    def _truncation_what(self) -> str:
        return "the last JSON record"

    def _open(self):
        return open_read(self.p, "r", encoding=self.codec, errors=self.errors)

    def _iter_objects(self, quiet: bool) -> Iterator[tuple[int, dict | None, str | None]]:
        """Yield (line, flattened record or None, problem)."""
        dec = json.JSONDecoder(**_JSON_DECODER)
        with self._open() as f:
            self._closers.append(f.close)
            prev: tuple[int, str] | None = None
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                if prev is not None:
                    yield self._parse_line(dec, *prev, last=False)
                prev = (line_no, line)
            if prev is not None:
                yield self._parse_line(dec, *prev, last=True)

    def _parse_line(self, dec, line_no: int, line: str, last: bool):
        try:
            obj = dec.decode(line.strip())
        except json.JSONDecodeError as e:
            if last and not line.endswith(("\n", "\r")):
                self.truncated_line = line_no
                return line_no, None, None
            return line_no, None, f"not valid JSON ({e.msg} at column {e.colno})"
        if not isinstance(obj, dict):
            return line_no, None, f"not a JSON object (found {type(obj).__name__})"
        return line_no, _flatten(obj), None

    def rows(self) -> Iterator[list[str]]:
        cols = self.columns
        try:
            for line, obj, problem in self._iter_objects(quiet=False):
                if obj is None:
                    if problem is not None:
                        self._bad(line, problem)
                    continue
                self.report.rows += 1
                yield [obj.get(c, "") for c in cols]
            self._finish()
        finally:
            self.close()


class _Num(str):
    """A JSON number kept as the text it was written as (``1`` stays ``"1"``)."""


_JSON_DECODER = dict(parse_int=_Num, parse_float=_Num, parse_constant=_Num)


def _json_text(v: Any) -> str:
    """JSON text of a parsed value, numbers as written."""
    if isinstance(v, _Num):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_json_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(str(k), ensure_ascii=False) + ": " + _json_text(x)
                               for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)


def _json_scalar(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return str(v)  # a plain str, also for _Num
    if isinstance(v, (list, dict)):
        return _json_text(v)
    return str(v)


def _flatten(obj: dict, prefix: str = "", out: dict | None = None) -> dict[str, str]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``; lists become JSON text."""
    if out is None:
        out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            _flatten(v, key + ".", out)
        else:
            out[key] = "" if isinstance(v, dict) else _json_scalar(v)
    return out


def _json_records(data: Any) -> list | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        hits = data.get("hits")
        if isinstance(hits, dict) and isinstance(hits.get("hits"), list):
            return hits["hits"]
        for key in ("records", "data", "rows", "items", "tickets", "results", "hits"):
            if isinstance(data.get(key), list):
                return data[key]
        lists = [v for v in data.values()
                 if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if len(lists) == 1:
            return lists[0]
        return [data]  # one record
    return None


class JsonSource(Source):
    """Whole-file JSON (loaded at once, then sliced)."""

    def __init__(self, p, ext, head, report, on_bad_lines, skip_truncated_tail):
        super().__init__(p, report, on_bad_lines, skip_truncated_tail)
        codec, errors = text_preflight(p, head, report)
        with open_read(p, "r", encoding=codec, errors=errors) as f:
            text = f.read()
        if not text.strip():
            raise table_error(p, "file is empty (it contains only blank space)")
        dec = json.JSONDecoder(**_JSON_DECODER)
        try:
            data = dec.decode(text)
        except json.JSONDecodeError as e:
            data = self._truncated_array(dec, text, e)
        records = _json_records(data)
        if records is None:
            raise table_error(p, "the JSON must be an array of records (objects) or an object holding "
                          'one, such as {"hits": {"hits": [...]}}')
        self._records = records
        if records and not any(isinstance(r, dict) for r in records):
            report.warnings.append("the JSON array holds plain values, not objects; they were "
                                   "read as one column named 'text'")
            self.columns = ["text"]
            self._flat = [{"text": _json_scalar(r)} for r in records]
            return
        self._flat = []
        keys: dict[str, None] = {}
        for rec in records:
            if isinstance(rec, dict):
                flat = _flatten(rec)
                keys.update(dict.fromkeys(flat))
                self._flat.append(flat)
            else:
                self._flat.append(None)
        if not keys:
            if self.truncated_line is not None:
                raise self.no_rows_error()
            raise table_error(p, "has no records (the JSON array is empty)")
        self.columns = list(keys)

    def _truncation_what(self) -> str:
        return "a JSON record"

    def _truncated_array(self, dec, text: str, e: json.JSONDecodeError) -> list:
        stripped = text.strip()
        lead = len(text) - len(text.lstrip())
        base = f"line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})"
        if not stripped.startswith("[") or stripped.endswith("]"):
            raise table_error(self.p, base, line=e.lineno) from None
        # a top-level array without its closing bracket: keep the complete records
        items: list = []
        ws = re.compile(r"\s*")
        i = ws.match(text, lead + 1).end()
        while True:
            if i >= len(text):
                break
            try:
                obj, end = dec.raw_decode(text, i)
            except json.JSONDecodeError:
                break
            items.append(obj)
            i = ws.match(text, end).end()
            if i < len(text) and text[i] == ",":
                i = ws.match(text, i + 1).end()
            elif i < len(text):
                raise table_error(self.p, base, line=e.lineno) from None
        self.truncated_line = text.count("\n", 0, min(i, len(text))) + 1
        return items

    def rows(self) -> Iterator[list[str]]:
        cols = self.columns
        try:
            for i, flat in enumerate(self._flat, start=1):
                if flat is None:
                    self._bad(None, f"record {i} is not a JSON object "
                                    f"({type(self._records[i - 1]).__name__})")
                    continue
                self.report.rows += 1
                yield [flat.get(c, "") for c in cols]
            self._finish()
        finally:
            self.close()
