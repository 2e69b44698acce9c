"""Hugging Face model cards (``README.md``) for the model folders ``lingalign train`` writes.

Below the stages: ``train`` writes the card when it finishes a model, ``evaluate`` (and so ``run``'s
eval steps) adds the scores of a lingalign model folder it scored. What each module holds:

* ``facts``: what a card says, read from files: the model folder's manifest and log, the data
  folder's manifest (languages, sources, counts), the base model's Hub id and licence, the Hub
  ids of known data sets, and the tags (method and data mixture);
* ``render``: the card itself: YAML front matter (``huggingface_hub.ModelCardData``) and body;
* ``results``: scores from ``results.json`` as a results table and a ``model-index``, merged
  into an existing card without touching anything else in the folder.

``huggingface_hub`` is imported where a card is written, not here.
"""
