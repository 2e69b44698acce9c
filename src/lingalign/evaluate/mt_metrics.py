"""Translation scores with sacrebleu: chrF++ and BLEU with the right tokenizer, each with its signature.

BLEU depends on how text is split into words, and sacrebleu's Python API defaults to ``13a`` (a
Western, space-based tokenizer) even for Chinese, which makes Chinese BLEU nearly meaningless
(sacrebleu issue #181, lm-eval #212). So the tokenizer follows the target language:

* ``zh`` for Chinese (characters), ``ja-mecab`` for Japanese when MeCab is installed,
  ``ko-mecab`` for Korean likewise, ``13a`` otherwise;
* spBLEU (the FLORES-101 SentencePiece tokenizer, what the paper reports) as an extra metric
  ``spbleu`` when the SentencePiece model file is available locally: ``--spm PATH``, or the file
  sacrebleu itself caches at ``$SACREBLEU/models/sacrebleu_tokenizer_spm.model`` (default
  ``~/.sacrebleu``). Nothing is downloaded.

chrF++ is ``CHRF(word_order=2)``. Every value is the corpus score (0-100) with sacrebleu's
signature string, so two numbers are only compared when their signatures agree.
COMET runs only when a local model path is given and ``unbabel-comet`` is importable.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from lingalign.errors import UserError

log = logging.getLogger(__name__)

SPM_FILE = "sacrebleu_tokenizer_spm.model"


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer name for a target language (ISO 639-1)."""
    if lang == "zh":
        return "zh"
    if lang in ("ja", "ko") and importlib.util.find_spec("MeCab") is not None:
        return f"{lang}-mecab"
    return "13a"


def find_spm_model(explicit: str | os.PathLike | None = None) -> Path | None:
    """The FLORES-101 SentencePiece model file, if the user has one locally."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"{path}: SentencePiece model file not found (given with --spm)")
        return path
    cached = Path(os.environ.get("SACREBLEU", Path.home() / ".sacrebleu")) / "models" / SPM_FILE
    return cached if cached.is_file() else None


class _LocalSpm:
    """sacrebleu's FLORES-101 tokenizer, loaded from a local file instead of its download path."""

    def __init__(self, path: Path):
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))

    def signature(self) -> str:
        return "flores101"

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
        spbleu = BLEU(tokenize="none")
        spbleu.tokenizer = _LocalSpm(spm_model)  # sacrebleu builds the signature from these two fields
        spbleu.tokenizer_signature = spbleu.tokenizer.signature()
        out["spbleu"] = _entry(spbleu.corpus_score(hypotheses, refs), spbleu)
    return out


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
    return {"value": round(100 * float(output.system_score), 4), "signature": f"comet:{checkpoint.parent.parent.name or checkpoint.name}"}
