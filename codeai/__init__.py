"""CodeAI: store CodeAI DSL configs, deploy them and run executions on Celery workers.

Importing the package loads nothing: ``codeai.dsl`` needs only lark. The Celery app is made
current when Django starts (``CodeAIConfig.ready``); ``celery -A codeai`` finds ``codeai.celery``.
"""
