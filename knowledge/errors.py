"""The one exception tree of the knowledge package."""


class KnowledgeError(Exception):
    """Base for every error raised by `knowledge`."""


class UnreadableDocument(KnowledgeError):
    """A file cannot be turned into text; the message says why in words a person can act on."""


class EmbedderMismatch(KnowledgeError):
    """The configured embedder differs from the one that produced the stored vectors."""


class EmbeddingFailed(KnowledgeError):
    """The embedder could not embed a batch of texts."""
