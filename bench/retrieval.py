"""Retrieval quality of recall and archival search: ours against BM25 alone and dense alone.

    .venv/bin/python bench/retrieval.py [--datasets conversation records manuals] [--queries N]
    .venv/bin/python bench/retrieval.py --datasets records --scale 100000   # search time at 100,000 passages

Three datasets made by bench/data/make_datasets.py (committed; nothing downloads): a long
conversation in an agent's recall memory, support records with look-alike identifiers in its
archival memory, and product manuals as PDFs that go through the product's ingestion pipeline into
a source attached to the agent. Each query has its gold evidence; a multi-hop query has two items.

For each query, side by side in one run:
- ours: memory.selectors.message_search / passage_search with the agent's scope and embedding
  model, as the conversation_search and archival_memory_search tools call them, top 50;
- BM25 alone: bm25s over the same texts (lower-cased words, English stop words, Snowball stems);
- dense alone: exact cosine over the same all-MiniLM-L6-v2 vectors that are stored.

R@k is the share of a query's evidence items with a row in the top k (an item is met by any of its
rows), MRR the mean of 1 / rank of the first gold row (0 if none in the top 50). The conversation's
questions speak of days relative to its "now" ("last Tuesday"): its searches run with
django.utils.timezone.now() at that moment.

With --scale N, an archival dataset's memory is filled up to N passages with more records made
the same way (other seeds), to measure search time where the target is set (100,000 passages);
the quality numbers are then those of a harder task (many more look-alikes), not comparable with
the default run's.

Vectors of stored texts and of queries are cached under bench/data/.cache by the text's hash, so a
second run skips most of the embedding; ours always embeds its query itself, inside the timing.
"""

import argparse
import gzip
import hashlib
import json
import logging
import random
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import numpy as np

from common import median, percentile, setup_django, table

DATA = Path(__file__).resolve().parent / "data"
DATASETS = ("conversation", "records", "manuals")
KS = (1, 5, 10, 50)
TOP = max(KS)
TARGET = 8.0  # points of R@10 above the better of BM25 and dense (issue 15)


# --- datasets ------------------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str
    kind: str  # recall, archival or documents
    texts: list[dict]  # {"id", "text", ...}; for documents, the facts as written in the PDFs
    queries: list[dict]  # {"id", "query", "kind", "evidence": [[text id or {"file", "page", "span"}, ...], ...]}
    now: datetime | None = None
    files: tuple[str, ...] = ()


def load_dataset(name: str) -> Dataset:
    with gzip.open(DATA / f"{name}.json.gz") as f:
        raw = json.load(f)
    now = datetime.fromisoformat(raw["now"]) if raw.get("now") else None
    return Dataset(name, raw["kind"], raw["texts"], raw["queries"], now, tuple(raw.get("files", ())))


def sample(dataset: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """The same dataset with `n` of its queries, drawn at random (the same ones for the same seed)."""
    if n is None or n >= len(dataset.queries):
        return dataset
    queries = random.Random(seed).sample(dataset.queries, n)
    return Dataset(dataset.name, dataset.kind, dataset.texts, queries, dataset.now, dataset.files)


# --- metrics -------------------------------------------------------------------------------------


def recall_at(ranking: list, evidence: list[set], k: int) -> float:
    top = set(ranking[:k])
    return sum(bool(item & top) for item in evidence) / len(evidence)


def reciprocal_rank(ranking: list, evidence: list[set]) -> float:
    gold = set().union(*evidence)
    return next((1 / rank for rank, row in enumerate(ranking[:TOP], start=1) if row in gold), 0.0)


def scores(rankings: list[list], evidence: list[list[set]]) -> dict[str, float]:
    """R@k and MRR, in points (0-100), over queries."""
    result = {f"R@{k}": 100 * float(np.mean([recall_at(r, e, k) for r, e in zip(rankings, evidence)])) for k in KS}
    result["MRR"] = 100 * float(np.mean([reciprocal_rank(r, e) for r, e in zip(rankings, evidence)]))
    return result


# --- embeddings, cached on disk --------------------------------------------------------------------


class CachedEmbedder:
    """Stands in for an embedder (same `embed`), remembering vectors by the text's hash in one file
    per model; `path=None` keeps them in memory only."""

    def __init__(self, embedder, path: Path | None) -> None:
        self.embedder, self.path = embedder, path
        self.vectors: dict[str, np.ndarray] = {}
        self.added = 0
        if path is not None and path.exists():
            with np.load(path) as stored:
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"]))

    def __getattr__(self, name: str):  # model, dimensions, count_tokens, max_tokens... as the embedder's
        return getattr(self.embedder, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        keys = [hashlib.sha1(text.encode()).hexdigest() for text in texts]
        missing = list(dict.fromkeys((key, text) for key, text in zip(keys, texts) if key not in self.vectors))
        for start in range(0, len(missing), 512):
            batch = missing[start:start + 512]
            for (key, _), vector in zip(batch, self.embedder.embed([text for _, text in batch])):
                self.vectors[key] = np.asarray(vector, dtype=np.float32)
            self.added += len(batch)
            if len(missing) > 512:
                print(f"  embedded {min(start + 512, len(missing)):,} of {len(missing):,} new texts", flush=True)
        return [self.vectors[key].tolist() for key in keys]

    def matrix(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embed(texts), dtype=np.float32)

    def save(self) -> None:
        if self.path is not None and self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, keys=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
            self.added = 0


@contextmanager
def embedder_replaced(cached: CachedEmbedder):
    """The product's services embed through `cached` while loading (ours still embeds its queries
    with the real embedder: the registry is put back before any search)."""
    from memory import embeddings

    model = cached.embedder.model
    real = embeddings._embedders.get(model)
    embeddings._embedders[model] = cached
    try:
        yield
    finally:
        if real is None:
            embeddings._embedders.pop(model, None)
        else:
            embeddings._embedders[model] = real


# --- loading through the product's services ------------------------------------------------------


@dataclass
class Stored:
    """A dataset as the agent's memory holds it: row ids and texts, and each query's evidence as rows."""

    ids: list[int]
    texts: list[str]
    evidence: list[list[set[int]]]


def store(dataset: Dataset, agent, cached: CachedEmbedder) -> Stored:
    from memory.search import ensure_index

    ensure_index(cached.model, cached.dimensions)
    with embedder_replaced(cached):
        if dataset.kind == "recall":
            rows = store_messages(dataset, agent, cached)
        elif dataset.kind == "archival":
            rows = store_passages(dataset, agent)
        else:
            return store_documents(dataset, agent)
    by_text_id = {text["id"]: row for text, row in zip(dataset.texts, rows)}
    evidence = [[{by_text_id[i] for i in item} for item in query["evidence"]] for query in dataset.queries]
    return Stored(rows, [text["text"] for text in dataset.texts], evidence)


def store_messages(dataset: Dataset, agent, cached: CachedEmbedder) -> list[int]:
    """Into recall memory, out of the context window, embedded as memory.services.messages_embed does."""
    from memory.models import Message
    from memory.services import messages_append

    kinds = {"user": Message.Kind.USER_MESSAGE, "assistant": Message.Kind.ASSISTANT}
    rows = messages_append(agent_id=agent.pk, owner_id=agent.owner_id, embed=False, messages=[
        {"role": t["role"], "kind": kinds[t["role"]], "content": t["text"], "text": t["text"], "in_context": False}
        for t in dataset.texts])
    for row, text, vector in zip(rows, dataset.texts, cached.embed([t["text"] for t in dataset.texts])):
        row.created_at = datetime.fromisoformat(text["created_at"])  # auto_now_add set it to now
        row.embedding, row.embedding_model = vector, cached.model
    Message.objects.bulk_update(rows, ["created_at", "embedding", "embedding_model"], batch_size=1000)
    return [row.pk for row in rows]


def filler(count: int) -> list[str]:
    """`count` more support records, made as the dataset's are but with other seeds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_datasets", DATA / "make_datasets.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    texts: list[str] = []
    seed = make.SEED + 100
    while len(texts) < count:
        texts += [t["text"] for t in make.records(random.Random(seed))["texts"]]
        seed += 1
    return texts[:count]


def fill(agent, count: int, cached: CachedEmbedder) -> list[str]:
    """Pad the agent's archival memory with `count` filler passages; their texts."""
    from memory.services import passages_insert_many

    texts = filler(count)
    with embedder_replaced(cached):
        for start in range(0, len(texts), 5000):
            passages_insert_many(owner_id=agent.owner_id, agent_id=agent.pk, embedding_model=agent.embedding_model,
                                 passages=[{"text": text} for text in texts[start:start + 5000]])
            cached.save()  # a long first run keeps what it embedded if it is stopped
            print(f"  filled {min(start + 5000, count):,} of {count:,}", flush=True)
    return texts


def store_passages(dataset: Dataset, agent) -> list[int]:
    from memory.services import passages_insert_many

    rows = passages_insert_many(owner_id=agent.owner_id, agent_id=agent.pk, embedding_model=agent.embedding_model,
                                passages=[{"text": t["text"]} for t in dataset.texts])
    return [row.pk for row in rows]


def store_documents(dataset: Dataset, agent) -> Stored:
    """The PDFs through the ingestion pipeline into a source attached to the agent; a piece of
    evidence (file, page, span) becomes the passages of that page that hold the span."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memory.ingestion import document_ingest
    from memory.models import Passage
    from memory.services import document_add, source_attach, source_create

    source = source_create(owner=agent.owner, name=f"bench {dataset.name}")
    for filename in dataset.files:
        data = (DATA / "manuals" / filename).read_bytes()
        document = document_add(owner=agent.owner, source=source, file=SimpleUploadedFile(filename, data), queue=False)
        document = document_ingest(document_id=document.pk)
        assert document.status == "done", (filename, document.error)
    source_attach(source=source, agent=agent)
    passages = list(Passage.objects.filter(document__source=source).order_by("id")
                    .values_list("id", "document__filename", "page_start", "page_end", "text"))
    by_page: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for row, filename, start, end, text in passages:
        for page in range(start, end + 1):
            by_page.setdefault((filename, page), []).append((row, " ".join(text.split())))

    def rows_holding(span: dict) -> set[int]:
        found = {row for row, text in by_page.get((span["file"], span["page"]), []) if span["span"] in text}
        assert found, f"no passage of {span['file']} page {span['page']} holds {span['span']!r}"
        return found

    evidence = [[set().union(*map(rows_holding, item)) for item in query["evidence"]] for query in dataset.queries]
    return Stored([p[0] for p in passages], [p[4] for p in passages], evidence)


# --- the three searches --------------------------------------------------------------------------


@contextmanager
def clock(now: datetime | None):
    """timezone.now() as at the dataset's "now" (time still runs), for searches that read dates."""
    if now is None:
        yield
        return
    from django.utils import timezone

    offset = now - timezone.now()
    real_now = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real_now() + offset):
        yield


def search_ours(dataset: Dataset, agent) -> tuple[list[list[int]], list[float]]:
    """Our search as the agent's tools call it (agents/storage.py): rankings and seconds per query."""
    from memory.search import MessageScope, PassageScope
    from memory.selectors import message_search, passage_search

    rankings, seconds = [], []
    with clock(dataset.now):
        for query in dataset.queries:
            started = time.perf_counter()
            if dataset.kind == "recall":
                _, ranked = message_search(scope=MessageScope(agent_id=agent.pk), query=query["query"],
                                           embedding_models=[agent.embedding_model], page_size=TOP)
            else:
                _, ranked = passage_search(scope=PassageScope(agent_id=agent.pk), query=query["query"],
                                           embedding_models=[agent.embedding_model], page_size=TOP)
            seconds.append(time.perf_counter() - started)
            rankings.append(ranked.ids)
    return rankings, seconds


def tokenize(texts: list[str]):
    import bm25s
    import Stemmer

    # \w+ rather than bm25s's \w\w+: the one-character parts of identifiers ("ORD-48213-K") count
    return bm25s.tokenize(texts, token_pattern=r"(?u)\b\w+\b", stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          show_progress=False)


def search_bm25(stored: Stored, queries: list[str]) -> list[list[int]]:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # its index build logs at DEBUG
    retriever = bm25s.BM25()
    retriever.index(tokenize(stored.texts), show_progress=False)
    rankings = []
    for query in queries:  # one by one: a query whose words are all unknown has no ranking, not an error
        tokens = tokenize([query])
        if not any(tokens.ids[0]):
            rankings.append([])
            continue
        found, found_scores = retriever.retrieve(tokens, k=min(TOP, len(stored.ids)), show_progress=False)
        rankings.append([stored.ids[i] for i, score in zip(found[0], found_scores[0]) if score > 0])
    return rankings


def search_dense(stored: Stored, queries: list[str], cached: CachedEmbedder) -> list[list[int]]:
    documents, asked = cached.matrix(stored.texts), cached.matrix(queries)
    similarity = asked @ documents.T  # unit vectors: cosine
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :TOP]
    return [[stored.ids[i] for i in row] for row in best]


# --- the run -------------------------------------------------------------------------------------


def measure(dataset: Dataset, cached: CachedEmbedder, scale: int | None = None) -> dict:
    """Load one dataset into a new agent's memory (filled up to `scale` passages), run the three
    searches, and delete it all."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from agents.services import agent_create
    from memory import word_stats

    started = time.perf_counter()
    owner = get_user_model().objects.create_user(username=f"bench-retrieval-{time.time_ns()}")
    try:
        agent = agent_create(owner=owner, name=f"retrieval {dataset.name}", persona="-", human="-",
                             embedding_model=cached.model)
        stored = store(dataset, agent, cached)
        if scale and dataset.kind == "archival" and scale > len(stored.ids):
            stored.texts += fill(agent, scale - len(stored.ids), cached)
            stored.ids += list(agent.passages.order_by("id").values_list("id", flat=True)[len(stored.ids):])
        questions = [query["query"] for query in dataset.queries]
        cached.embed(questions)  # dense alone's query vectors, before anything is timed
        cached.save()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE memory_message; ANALYZE memory_passage")
        for kind in ("memory_message", "memory_passage"):  # as the worker would once the memory is large
            word_stats.recount(owner_id=owner.pk, table=kind)
        loaded = time.perf_counter() - started
        search_ours(sample(dataset, 5, seed=1), agent)  # warm up: the model, the caches
        ours, seconds = search_ours(dataset, agent)
        rankings = {"ours": ours, "BM25": search_bm25(stored, questions), "dense": search_dense(stored, questions, cached)}
    finally:
        owner.delete()  # the agent, its messages and passages, the source and its documents
    return {"dataset": dataset, "stored": stored, "rankings": rankings, "seconds": seconds, "loaded": loaded,
            "took": time.perf_counter() - started}


def report(result: dict) -> float:
    dataset, stored, rankings = result["dataset"], result["stored"], result["rankings"]
    measured = {method: scores(ranking, stored.evidence) for method, ranking in rankings.items()}
    print(f"\n{dataset.name} ({dataset.kind} memory): {len(stored.ids):,} rows, {len(dataset.queries):,} queries; "
          f"loaded in {result['loaded']:.0f} s, all done in {result['took']:.0f} s\n")
    columns = [f"R@{k}" for k in KS] + ["MRR"]
    print(table(["search", *columns], [[method, *(f"{m[c]:.1f}" for c in columns)] for method, m in measured.items()]))
    kinds = sorted({query["kind"] for query in dataset.queries})
    rows = []
    for kind in kinds:
        chosen = [n for n, query in enumerate(dataset.queries) if query["kind"] == kind]
        rows.append([kind, f"{len(chosen):,}", *(
            f"{scores([ranking[n] for n in chosen], [stored.evidence[n] for n in chosen])['R@10']:.1f}"
            for ranking in rankings.values())])
    print("\nR@10 by kind of question\n")
    print(table(["kind", "queries", *rankings], rows))
    seconds = result["seconds"]
    print(f"\nours: search p50 {median(seconds) * 1000:.1f} ms, p95 {percentile(seconds, 0.95) * 1000:.1f} ms "
          f"(query embedding included)")
    return measured["ours"]["R@10"] - max(measured["BM25"]["R@10"], measured["dense"]["R@10"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--queries", type=int, default=None, help="a random sample of this many queries per dataset")
    parser.add_argument("--scale", type=int, default=None, help="fill archival memory up to this many passages")
    args = parser.parse_args()
    setup_django()

    from django.conf import settings

    from memory.embeddings import get_embedder

    embedder = get_embedder(settings.EMBEDDING_MODEL)
    cached = CachedEmbedder(embedder, DATA / ".cache" / f"{embedder.model.replace('/', '--')}.npz")
    started = time.perf_counter()
    gaps = []
    with tempfile.TemporaryDirectory() as media:
        settings.MEDIA_ROOT = media
        for name in args.datasets:
            print(f"{name}: loading", flush=True)
            gaps.append((name, report(measure(sample(load_dataset(name), args.queries), cached, args.scale))))
    print(f"\n{embedder.model}, {time.perf_counter() - started:.0f} s in all")
    for name, gap in gaps:
        print(f"{name}: ours R@10 minus the better of BM25 and dense = {gap:+.1f} points (target: +{TARGET:.0f})")


if __name__ == "__main__":
    main()
