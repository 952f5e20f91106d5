"""A synthetic corpus: clustered unit vectors with Zipf-distributed text tied to the clusters.

Shape, fixed before any measurement: 200 topic clusters; documents of 10 chunks, each document
about one topic; a document's chunks scatter around a per-document centre (cosine ≈ 0.73 between
chunks of one document, ≈ 0.44 within a topic, ≈ 0 across topics). Text is drawn from a 10,000-word
pseudo-word vocabulary with Zipf exponent 1.0 plus a few words of the document's topic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DIMENSION = 384
CLUSTERS = 200
CHUNKS_PER_DOCUMENT = 10
PRIVATE_SHARE = 0.10
PRIVATE_ORGS = 20
VOCABULARY = 10_000
ZIPF_EXPONENT = 1.0
TOPIC_WORDS = 5
BODY_WORDS = (60, 110)
DOCUMENT_SPREAD = 0.8  # norm of the gaussian offset of a document centre from its cluster centre
CHUNK_SPREAD = 0.6  # ... of a chunk from its document centre
QUERY_SPREAD = 0.6  # ... of a query from the chunk it was made from (cosine ≈ 0.86)

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

_CONSONANTS = "bdfgklmnprtvz"
_VOWELS = "aeiou"


def org_name(index: int) -> str:
    return f"org{index:02d}"


@dataclass(frozen=True)
class Corpus:
    """Chunk `i` gets database id `i + 1`; document `j` gets id `j + 1`."""

    vectors: Floats  # (chunks, DIMENSION), unit rows
    chunk_document: Ints  # (chunks,)
    chunk_org: Ints  # (chunks,), -1 = public, else index into PRIVATE_ORGS
    bodies: list[str]
    headings: list[str]
    document_titles: list[str]
    document_org: Ints  # (documents,)
    document_cluster: Ints
    topic_words: list[list[str]]

    @property
    def size(self) -> int:
        return len(self.bodies)

    @property
    def documents(self) -> int:
        return len(self.document_titles)

    def visible(self, org: int) -> Ints:
        """Indices of the chunks an org's search may return: public ones and its own."""
        return np.flatnonzero((self.chunk_org == -1) | (self.chunk_org == org))


@dataclass(frozen=True)
class Query:
    org: str
    org_index: int
    vector: Floats
    text: str
    source: int  # the chunk the query was derived from


def unit(vectors: Floats) -> Floats:
    normed: Floats = (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)
    return normed


def _noise(rng: np.random.Generator, rows: int, spread: float) -> Floats:
    return rng.standard_normal((rows, DIMENSION), dtype=np.float32) * np.float32(spread / math.sqrt(DIMENSION))


def pseudo_words(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct pronounceable non-words (2-4 syllables), so no English stop word or stem collides."""
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    found: dict[str, None] = {}
    while len(found) < count:
        length = int(rng.integers(2, 5))
        word = "".join(syllables[int(i)] for i in rng.integers(0, len(syllables), length))
        found.setdefault(word, None)
    return list(found)


def zipf_probabilities(size: int, exponent: float) -> npt.NDArray[np.float64]:
    weights = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** exponent
    normed: npt.NDArray[np.float64] = weights / weights.sum()
    return normed


def make_corpus(size: int, *, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    words = pseudo_words(rng, VOCABULARY + CLUSTERS * TOPIC_WORDS)
    vocabulary = np.array(words[:VOCABULARY], dtype=object)
    topics = [words[VOCABULARY + c * TOPIC_WORDS : VOCABULARY + (c + 1) * TOPIC_WORDS] for c in range(CLUSTERS)]
    probabilities = zipf_probabilities(VOCABULARY, ZIPF_EXPONENT)

    documents = math.ceil(size / CHUNKS_PER_DOCUMENT)
    document_cluster = rng.integers(0, CLUSTERS, documents)
    private = rng.random(documents) < PRIVATE_SHARE
    document_org = np.where(private, rng.integers(0, PRIVATE_ORGS, documents), -1)
    chunk_document = np.arange(size, dtype=np.int64) // CHUNKS_PER_DOCUMENT

    centres = unit(rng.standard_normal((CLUSTERS, DIMENSION), dtype=np.float32))
    document_centres = unit(centres[document_cluster] + _noise(rng, documents, DOCUMENT_SPREAD))
    vectors = unit(document_centres[chunk_document] + _noise(rng, size, CHUNK_SPREAD))

    lengths = rng.integers(BODY_WORDS[0], BODY_WORDS[1] + 1, size)
    drawn = vocabulary[rng.choice(VOCABULARY, size=int(lengths.sum()), p=probabilities)].tolist()
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    topic_counts = rng.integers(1, 4, size)
    topic_picks = rng.integers(0, TOPIC_WORDS, (size, 3))
    positions = rng.random((size, 3))
    heading_words = vocabulary[rng.choice(VOCABULARY, size=size, p=probabilities)].tolist()
    bodies: list[str] = []
    headings: list[str] = []
    for i in range(size):
        topic = topics[int(document_cluster[chunk_document[i]])]
        body = drawn[int(offsets[i]) : int(offsets[i + 1])]
        for slot in range(int(topic_counts[i])):
            body.insert(int(positions[i, slot] * len(body)), topic[int(topic_picks[i, slot])])
        bodies.append(" ".join(body).capitalize() + ".")
        headings.append(f"{topic[int(topic_picks[i, 0])]} {heading_words[i]}".capitalize())

    title_words = vocabulary[rng.choice(VOCABULARY, size=(documents, 2), p=probabilities)].tolist()
    titles = [
        f"{topics[int(document_cluster[d])][0]} {title_words[d][0]} {title_words[d][1]}".capitalize()
        for d in range(documents)
    ]
    return Corpus(
        vectors=vectors,
        chunk_document=chunk_document,
        chunk_org=document_org[chunk_document],
        bodies=bodies,
        headings=headings,
        document_titles=titles,
        document_org=document_org,
        document_cluster=document_cluster,
        topic_words=topics,
    )


def make_queries(corpus: Corpus, count: int, *, seed: int) -> list[Query]:
    """Questions about random visible chunks, asked by the private orgs in turn.

    The vector is a noisy copy of the chunk's; the text is two words of the chunk's body (so as
    common as the corpus makes them) and two words of its topic, after a few stop words.
    """
    rng = np.random.default_rng(seed)
    visible = {org: corpus.visible(org) for org in range(PRIVATE_ORGS)}
    queries: list[Query] = []
    for i in range(count):
        org = i % PRIVATE_ORGS
        source = int(rng.choice(visible[org]))
        vector = unit(corpus.vectors[source][None, :] + _noise(rng, 1, QUERY_SPREAD))[0]
        body = corpus.bodies[source].rstrip(".").lower().split()
        first, second = (body[int(j)] for j in rng.integers(0, len(body), 2))
        topic = corpus.topic_words[int(corpus.document_cluster[corpus.chunk_document[source]])]
        one, two = (topic[int(j)] for j in rng.choice(TOPIC_WORDS, 2, replace=False))
        text = f"How do I {first} the {one} {second} {two}?"
        queries.append(Query(org=org_name(org), org_index=org, vector=vector, text=text, source=source))
    return queries
