"""Accuracy and macro-F1 per language (issue 19).

    python bench/languages.py --bundled      # the shipped model on the it_service_tickets test split
    python bench/languages.py --bilingual    # a `standard` run on a written German/English file

``--bundled`` identifies each test ticket's language offline (py3langid; the dataset has no
language column).  ``--bilingual`` writes a small labeled German/English file of templated
helpdesk tickets (below; no German ticket set is available in ../shared/data), trains the
`standard` preset on it with the installed all-MiniLM-L6-v2 (an English model) and reports the
served model and its transformer alone per language on the held-out test rows.
Results are merged into bench/results/languages.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IT, RESULTS, ROOT, machine, require_data, write_text_atomic  # noqa: E402

SHIPPED = ROOT / "resources" / "models" / "it-service-minilm"
OUT = RESULTS / "languages.json"

# label -> language -> sentence templates; {x} slots are filled from SLOTS of that language.
TEMPLATES = {
    "Printing": {
        "de": ["Der Drucker {wo} druckt nicht mehr", "Papierstau im Drucker {wo}", "Toner leer, {wo} kann niemand drucken",
               "Druckauftrag hängt in der Warteschlange seit {wann}", "Der Scanner am Drucker {wo} sendet keine Scans"],
        "en": ["The printer {wo} stopped printing", "Paper jam in the printer {wo}", "Toner empty, nobody {wo} can print",
               "Print job stuck in the queue since {wann}", "The scanner on the printer {wo} sends no scans"]},
    "Access": {
        "de": ["Passwort vergessen, ich komme nicht in {app}", "Mein Konto für {app} ist gesperrt",
               "Bitte Zugriff auf {app} für den neuen Kollegen freischalten", "Kennwort für {app} abgelaufen seit {wann}",
               "Zwei-Faktor-Anmeldung für {app} funktioniert nicht"],
        "en": ["Forgot my password, cannot get into {app}", "My {app} account is locked",
               "Please grant the new colleague access to {app}", "Password for {app} expired since {wann}",
               "Two-factor login for {app} does not work"]},
    "Network": {
        "de": ["Das WLAN {wo} ist sehr langsam", "VPN bricht seit {wann} ständig ab", "Kein Internet {wo}",
               "Netzlaufwerk {wo} nicht erreichbar", "Die Verbindung zu {app} wird dauernd getrennt"],
        "en": ["The wifi {wo} is very slow", "VPN keeps dropping since {wann}", "No internet {wo}",
               "Network drive {wo} unreachable", "The connection to {app} keeps dropping"]},
    "Hardware": {
        "de": ["Mein {geraet} startet nicht mehr", "Bildschirm am {geraet} bleibt schwarz seit {wann}",
               "Tastatur vom {geraet} defekt", "Bitte einen neuen {geraet} für {wo} bestellen", "Akku vom {geraet} hält nicht"],
        "en": ["My {geraet} does not start any more", "Screen of the {geraet} stays black since {wann}",
               "Keyboard of the {geraet} broken", "Please order a new {geraet} for {wo}", "Battery of the {geraet} does not last"]},
    "Software": {
        "de": ["Bitte {app} auf meinem {geraet} installieren", "{app} stürzt beim Start ab",
               "Update von {app} schlägt fehl seit {wann}", "Lizenz für {app} abgelaufen", "{app} ist sehr langsam auf dem {geraet}"],
        "en": ["Please install {app} on my {geraet}", "{app} crashes on start",
               "Update of {app} fails since {wann}", "Licence for {app} expired", "{app} is very slow on the {geraet}"]},
}
SLOTS = {
    "de": {"wo": ["im zweiten Stock", "im Büro", "im Lager", "im Besprechungsraum", "in der Buchhaltung", "zu Hause"],
           "wann": ["gestern", "Montag", "heute Morgen", "letzter Woche", "dem Update"],
           "app": ["SAP", "Outlook", "Teams", "Excel", "das Ticketsystem", "Jira"],
           "geraet": ["Laptop", "Rechner", "Monitor", "Tablet", "Arbeitsplatz-PC"]},
    "en": {"wo": ["on the second floor", "in the office", "in the warehouse", "in the meeting room",
                  "in accounting", "at home"],
           "wann": ["yesterday", "Monday", "this morning", "last week", "the update"],
           "app": ["SAP", "Outlook", "Teams", "Excel", "the ticket system", "Jira"],
           "geraet": ["laptop", "computer", "monitor", "tablet", "desktop PC"]},
}
OPENERS = {"de": ["Hallo,", "Guten Morgen,", "", "", "Dringend:"], "en": ["Hello,", "Good morning,", "", "", "Urgent:"]}
CLOSERS = {"de": ["Danke.", "Bitte um Hilfe.", "", "Viele Grüße"], "en": ["Thanks.", "Please help.", "", "Kind regards"]}


def write_bilingual(path: Path, per_label_language: int = 80, seed: int = 0) -> Path:
    """The labeled German/English file (text, label, language), templates filled at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, langs in TEMPLATES.items():
        for lang, templates in langs.items():
            for _ in range(per_label_language):
                t = str(rng.choice(templates))
                fill = {k: str(rng.choice(v)) for k, v in SLOTS[lang].items()}
                text = " ".join(x for x in (str(rng.choice(OPENERS[lang])), t.format(**fill),
                                            str(rng.choice(CLOSERS[lang]))) if x)
                rows.append({"text": text, "label": label, "language": lang})
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["text", "label", "language"])
        w.writeheader()
        w.writerows(rows)
    return path


def bundled() -> dict:
    """The shipped model on the it_service_tickets test split, per identified language."""
    import pandas as pd

    from triage_app import language
    from triage_app.engine import TicketClassifier

    require_data(IT)
    df = pd.read_csv(IT, dtype=str, keep_default_na=False)
    df = df[df["split"] == "test"].reset_index(drop=True)
    clf = TicketClassifier.load(SHIPPED, device="cpu")
    known = {lab: i for i, lab in enumerate(clf.labels)}
    y = np.array([known[v] for v in df["Topic_group"]])
    tickets = [{"text": t} for t in df["Document"]]
    t0 = time.perf_counter()
    pred = clf.predict_proba(tickets).argmax(1)
    langs = language.languages_for([clf.compose(t) for t in tickets])
    return {"model": f"{clf.name} v{clf.version}", "rows": len(df), "accuracy": float(np.mean(pred == y)),
            "language_source": f"identified by {language.IDENTIFIER}", "seconds": time.perf_counter() - t0,
            "by_language": language.per_language(y, pred, langs)}


def bilingual(per_label_language: int) -> dict:
    """A `standard` run on the written German/English file; served and transformer-alone figures
    per language on its test rows."""
    from trainer.config import TrainConfig
    from trainer.pipeline import DataSpec, run
    from triage_app import language
    from triage_app.engine import TicketClassifier

    with tempfile.TemporaryDirectory() as tmp:
        f = write_bilingual(Path(tmp) / "bilingual.csv", per_label_language)
        spec = DataSpec(str(f), label_col="label", text_col="text", val_frac=0.15, test_frac=0.25)
        t0 = time.perf_counter()
        out = run(spec, TrainConfig.standard(), Path(tmp) / "model", name="bilingual")
        secs = time.perf_counter() - t0
        import pandas as pd

        from trainer.pipeline import prepare
        data, _ = prepare(spec.with_config(TrainConfig.standard()))
        clf = TicketClassifier.load(out.bundle_path, device="cpu")
        t = data.test
        alone = None
        if clf.session is not None:
            pred = clf.transformer_logits(list(zip(t.text_a, t.text_b)), None).argmax(1)
            alone = {"accuracy": float(np.mean(pred == t.y)), "by_language": language.per_language(t.y, pred, t.lang)}
        ex = out.metrics["test_exported"]
        rows = len(pd.read_csv(f))
    return {"file": f"written German/English templated tickets, {rows} rows ({len(TEMPLATES)} labels x 2 languages x "
                    f"{per_label_language}), language column", "preset": "standard", "base_model": "all-MiniLM-L6-v2",
            "seconds": secs, "served": {k: ex[k] for k in ("accuracy", "macro_f1", "rows", "precision", "by_language")},
            "hybrid": (out.metrics.get("hybrid") or {}).get("chosen"), "transformer_alone": alone,
            "training_languages": data.report.languages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundled", action="store_true")
    ap.add_argument("--bilingual", action="store_true")
    ap.add_argument("--per-label-language", type=int, default=80)
    args = ap.parse_args()
    res = json.loads(OUT.read_text()) if OUT.exists() else {"benchmark": "languages"}
    res["machine"] = machine()
    if args.bundled:
        res["bundled"] = bundled()
    if args.bilingual:
        res["bilingual_standard"] = bilingual(args.per_label_language)
    res["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT, json.dumps(res, indent=2, default=float))
    print(json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=2, default=float))


if __name__ == "__main__":
    main()
