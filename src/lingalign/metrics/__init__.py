"""Metrics shared by every stage that scores answers (evaluation, the bootstrap, the predictions browser).

* ``qa``: the paper's inclusion match and SQuAD/MLQA exact match and F1, normalised per language;
* ``translation``: chrF++ and BLEU (tokenizer by the target's script), spBLEU from a local
  SentencePiece file, COMET from a local checkpoint, each with its signature;
* ``math_answers``: the number a response ends with, in any digit system and separator convention;
* ``answer_language``: the share of answers in the expected language;
* ``per_item``: one score per item, and the corpus metric objects, for resampling and browsing.
* ``consistency``: cross-lingual consistency, the same answer to an item in X as in English;
* ``resampling``: the item bootstrap (draws as item counts) behind every interval.

How a task's predictions become its results.json entry (which metrics, rounding, notes) is the
evaluate stage's ``scoring``.
"""
