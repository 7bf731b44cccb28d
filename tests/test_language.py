"""Tickets in more than one language (issue 19): the language of each row (a column of the data,
else the offline identifier), accuracy and macro-F1 per language in ``triage eval``, the bundle and
the model card; the lexical model keeps umlauts, ß and accents as word characters."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from triage_app import language

# A small written German/English file: three labels, each in both languages.
DE = {
    "Drucker": ["Der Drucker im zweiten Stock druckt nicht mehr, bitte prüfen",
                "Papierstau im Drucker, die Seiten bleiben hängen",
                "Der Farbdrucker zeigt einen Fehler und druckt nur leere Seiten",
                "Toner ist leer, der Drucker im Büro braucht eine neue Kartusche",
                "Drucken aus Excel funktioniert nicht, der Auftrag bleibt in der Warteschlange",
                "Der Scanner am Drucker schickt keine E-Mails mehr",
                "Bitte den Drucker im Besprechungsraum neu einrichten",
                "Der Drucker meldet Papierfach leer, obwohl es voll ist"],
    "Passwort": ["Ich habe mein Passwort vergessen und kann mich nicht anmelden",
                 "Mein Konto ist gesperrt, bitte das Kennwort zurücksetzen",
                 "Die Anmeldung schlägt fehl, das Passwort ist abgelaufen",
                 "Bitte die Zwei-Faktor-Anmeldung für mein neues Telefon einrichten",
                 "Nach dem Urlaub ist mein Kennwort ungültig",
                 "Ich kann mein Passwort nicht ändern, die Seite zeigt einen Fehler",
                 "Das Benutzerkonto eines neuen Kollegen ist noch nicht freigeschaltet",
                 "Zu viele Fehlversuche, mein Zugang ist jetzt gesperrt"],
    "Netzwerk": ["Das WLAN im Büro ist seit heute Morgen sehr langsam",
                 "Die VPN-Verbindung bricht jede Stunde ab",
                 "Kein Internet im dritten Stock, das Netzwerkkabel ist eingesteckt",
                 "Der Zugriff auf das Netzlaufwerk dauert sehr lange",
                 "Die Verbindung zum Server wird ständig getrennt",
                 "Im Besprechungsraum gibt es kein WLAN mehr",
                 "Der Router im Lager blinkt rot und nichts geht",
                 "Von zu Hause komme ich nicht mehr ins Firmennetz"],
}
EN = {
    "Drucker": ["The printer on the second floor stopped printing, please check",
                "Paper jam in the printer, pages keep getting stuck",
                "The colour printer shows an error and prints only blank pages",
                "Toner is empty, the office printer needs a new cartridge",
                "Printing from Excel does not work, the job stays in the queue",
                "The scanner on the printer no longer sends emails",
                "Please set up the printer in the meeting room again",
                "The printer says the paper tray is empty although it is full"],
    "Passwort": ["I forgot my password and cannot log in",
                 "My account is locked, please reset the password",
                 "Login fails, the password has expired",
                 "Please set up two-factor login for my new phone",
                 "After my holiday my password is no longer valid",
                 "I cannot change my password, the page shows an error",
                 "The user account of a new colleague is not enabled yet",
                 "Too many failed attempts, my access is now blocked"],
    "Netzwerk": ["The office wifi has been very slow since this morning",
                 "The VPN connection drops every hour",
                 "No internet on the third floor, the network cable is plugged in",
                 "Access to the network drive takes a very long time",
                 "The connection to the server keeps dropping",
                 "There is no wifi in the meeting room any more",
                 "The router in the warehouse is blinking red and nothing works",
                 "From home I can no longer reach the company network"],
}


def write_bilingual(path: Path, with_language: bool = True) -> Path:
    rows = [{"text": t, "label": lab, "language": lang}
            for lang, src in (("de-DE", DE), ("en", EN)) for lab, texts in src.items() for t in texts]
    with open(path, "w", encoding="utf-8", newline="") as f:
        cols = ["text", "label"] + (["language"] if with_language else [])
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_normalize_and_find_column():
    assert [language.normalize(v) for v in ("de-DE", "DE", "en_us", "", None, "German")] == \
        ["de", "de", "en", "und", "und", "german"]
    assert language.find_language_column(["Text", "Lang", "label"]) == "Lang"
    assert language.find_language_column(["text", "label"]) is None


def test_identifier_is_offline_and_tells_german_from_english():
    de = [t for texts in DE.values() for t in texts]
    en = [t for texts in EN.values() for t in texts]
    got = language.identify(de + en + ["", "   "])
    assert np.mean([g == "de" for g in got[:len(de)]]) >= 0.9
    assert np.mean([g == "en" for g in got[len(de):len(de) + len(en)]]) >= 0.9
    assert got[-2:] == ["und", "und"]


def test_per_language_metrics():
    y = np.array([0, 1, 0, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    by = language.per_language(y, p, ["de", "de", "en", "en", "en", "de"])
    assert list(by) == ["de", "en"]                       # most rows first (3 each: by name)
    assert by["de"] == {"rows": 3, "accuracy": pytest.approx(2 / 3), "macro_f1": pytest.approx((2 / 3 + 1 + 0) / 3)}
    assert by["en"]["rows"] == 3 and by["en"]["accuracy"] == pytest.approx(2 / 3)
    assert "language" in language.table_lines(by)[0]


@pytest.mark.parametrize("with_column", [True, False])
def test_prepare_records_languages_of_training_rows(tmp_path, with_column):
    import pandas as pd

    from trainer.data import prepare_frame

    df = pd.read_csv(write_bilingual(tmp_path / "t.csv", with_column), dtype=str, keep_default_na=False)
    d = prepare_frame(df, label_col="label", text_col="text", min_per_class=5, val_frac=0.2, test_frac=0.2)
    rep = d.report
    assert set(rep.languages) >= {"de", "en"} and sum(rep.languages.values()) == len(d.train)
    assert rep.language_source == ("column 'language'" if with_column else "identified by py3langid")
    assert len(d.test.lang) == len(d.test) and len(d.val.lang) == len(d.val)
    assert any("languages of the training rows" in line for line in rep.lines())


def test_lexical_run_reports_languages_in_bundle_card_and_eval(tmp_path, data_dir, capsys):
    """A lexical bundle trained on the German/English file: per-language test figures in
    bundle.json, the languages of the training rows in the model card; `triage eval` per language."""
    from trainer.config import TrainConfig
    from trainer.pipeline import DataSpec, run
    from triage_app.cli import main

    f = write_bilingual(tmp_path / "bi.csv")
    spec = DataSpec(str(f), label_col="label", text_col="text", min_per_class=5, val_frac=0.2, test_frac=0.25)
    out = run(spec, TrainConfig.lexical(), tmp_path / "lex", name="bi", card=True)
    meta = json.loads((Path(out.bundle_path) / "bundle.json").read_text(encoding="utf-8"))
    by = meta["metrics"]["test_exported"]["by_language"]
    assert set(by) == {"de", "en"} and sum(r["rows"] for r in by.values()) == meta["metrics"]["test_exported"]["rows"]
    assert meta["data_report"]["languages"]["de"] > 0 and meta["data_report"]["languages"]["en"] > 0
    card = (Path(out.bundle_path) / "MODEL_CARD.md").read_text(encoding="utf-8")
    section = card.split("## Languages", 1)[1]
    assert any(line.startswith("| de ") for line in section.splitlines())

    assert main(["eval", out.bundle_path, str(f), "--label-col", "label", "--text-col", "text", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["language_source"] == "column 'language'" and set(d["by_language"]) == {"de", "en"}
    assert d["by_language"]["de"]["rows"] == 24 and 0 <= d["by_language"]["en"]["macro_f1"] <= 1
    f2 = write_bilingual(tmp_path / "bi2.csv", with_language=False)
    assert main(["eval", out.bundle_path, str(f2), "--label-col", "label", "--text-col", "text"]) == 0
    text = capsys.readouterr().out
    assert "per language (identified by py3langid)" in text and "macro F1" in text


GERMAN_PAIRS = [("drücken", "drucken"), ("schön", "schon"), ("Bär", "Bar"), ("café", "cafe"), ("Straße", "Strasse")]


def test_lexical_tokens_keep_umlauts_sharp_s_and_accents(tmp_path):
    """Umlauts, ß and accented letters are word characters; accents are not stripped, so words
    that differ only by them stay apart, and lexical.onnx agrees with scikit-learn on them."""
    from trainer.lexical import fit_lexical, onnx_proba
    from triage_app.text import clean_text, lexical_text

    texts, y = [], []
    for k, (a, b) in enumerate(GERMAN_PAIRS):
        for filler in ("bitte", "heute", "Büro", "Größe", "Übung", "élève"):
            texts += [lexical_text(clean_text(f"{a} {filler}"), ""), lexical_text(clean_text(f"{b} {filler}"), "")]
            y += [0, 1]
    y = np.array(y)
    m = fit_lexical(texts, y, texts, y, 2, Cs=(2.0,))
    vocab = set(m.pipeline[0].vocabulary_)
    for a, b in GERMAN_PAIRS:
        assert a.lower() in vocab and b.lower() in vocab, (a, b)
    assert {"büro", "größe", "übung", "élève"} <= vocab
    assert lexical_text("STRAẞE Ärger", "") == "straße ärger"      # lower-cased, nothing stripped
    p = tmp_path / "lex.onnx"
    m.to_onnx(p)
    probe = [lexical_text(clean_text(t), "") for t in ("Bitte drücken Sie", "schon wieder", "Größe der Straße",
                                                         "ÄÖÜ äöü ß ẞ é è ê ñ ç", "café crème")]
    np.testing.assert_allclose(onnx_proba(p, probe), m.predict_proba(probe), atol=1e-5)
