"""The generation layer: a model's answers to prompts, for every stage that needs them.

It sits below the stages (``eval``, ``data translate``, ``serve``, ``analyze``) and above the
foundation, so that none of them has to import another stage to decode. What each module holds:

* ``backends``: :func:`~lingalign.generation.backends.make_generator` and the backend names;
* ``hf_generator``: batched decoding with transformers (fixed batches or the rolling batch), greedy or sampled;
* ``vllm_generator``: the same interface on vLLM (GPU);
* ``rolling``: the rolling batch, where a finished row leaves at once and waiting prompts take its place;
* ``batching``: prompts as token ids, and length-sorted batches;
* ``stops``: the end-of-sequence ids, and an answer cut at the first stop string;
* ``dtype``: ``--dtype auto`` resolved for the device that decodes;
* ``sampling``: seeded sampling (temperature, top-p), each row drawn from its own seed;
* ``loglik``: log-likelihood scores of answer options (multiple-choice sets) and of continuations;
* ``work_units``: data-parallel decoding: the process group, work units, per-rank part files;
* ``fingerprint``: the cheap identity of a model folder that resumable steps key on;
* ``progress``: a log line per decoded batch.

Nothing is imported here: the modules that need torch import it when they run, and callers name
the module they use.
"""
