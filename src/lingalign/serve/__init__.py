"""``lingalign serve``: a local web page to chat with a run's models side by side, browse its
predictions item by item, and watch a run in progress.

The page only reads: a run folder (``lingalign run`` layout, see ``lingalign.run.command``) and the model
folders it names or that are given with ``--model``. It is built on FastAPI (routes, request
validation with pydantic, server-sent events for streamed answers) served by uvicorn; see
docs/serve.md for why.

    runfolder.py   what a run folder holds: its models, its steps, its training logs
    chat.py        the loaded models and the one-at-a-time generation queue
    browse.py      per-item scores and filters over the stored predictions
    app.py         the HTTP routes
    command.py     the ``lingalign serve`` verb
    static/        the page (plain HTML, CSS and JavaScript, no build step)
"""
