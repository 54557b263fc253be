"""Ingestion throughput against the embedder's raw throughput on the same chunks.

    .venv/bin/python bench/ingestion.py [--pages 40] [--rounds 3]

A generated PDF goes through the whole pipeline (parse, chunk, embed, insert, progress writes);
its chunk texts then go through the embedder alone, in the pipeline's batch size. The ratio says
what the pipeline costs beyond the model (the aim: little). Rounds alternate and the best of each
is kept, so that a noisy neighbour on the machine hurts both sides alike.
"""

import argparse
import io
import random
import tempfile
import time

from common import setup_django, table


def make_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    rng = random.Random(2310)
    words = ("pump valve pressure seal filter motor bearing flow pipe gauge season winter summer service "
             "engineer report budget meeting supplier warranty voltage breaker capacitor impeller basket "
             "level concrete frost litre minute schedule inspection replacement quality customer").split()
    pdf = FPDF()
    pdf.set_auto_page_break(auto=False)
    pdf.set_font("Helvetica", size=8)
    for _ in range(pages):
        pdf.add_page()
        paragraphs = []
        for _ in range(4):
            sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize() + "."
                         for _ in range(rng.randint(4, 7))]
            paragraphs.append(" ".join(sentences))
        pdf.multi_cell(0, 3.5, "\n\n".join(paragraphs))
    return bytes(pdf.output())


def parse_and_chunk(data: bytes, embedder) -> tuple[list[str], float]:
    from memory.parsing import Chunker, chunk_sizes, parse_pdf

    started = time.perf_counter()
    chunker = Chunker(embedder.count_tokens, *chunk_sizes(embedder))
    parsed = parse_pdf(io.BytesIO(data))
    texts = [c.text for page, text in parsed.pages for c in chunker.feed(page, text)]
    texts += [c.text for c in chunker.finish()]
    return texts, time.perf_counter() - started


def embed_raw(texts: list[str], embedder) -> float:
    from memory.ingestion import EMBED_BATCH

    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        embedder.embed(texts[start:start + EMBED_BATCH])
    return time.perf_counter() - started


def pipeline(owner, source, data: bytes) -> tuple[float, int]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memory.ingestion import document_ingest
    from memory.services import document_add

    document = document_add(owner=owner, source=source, file=SimpleUploadedFile("bench.pdf", data), queue=False)
    started = time.perf_counter()
    document = document_ingest(document_id=document.pk)
    elapsed = time.perf_counter() - started
    assert document is not None and document.status == "done", document and document.error
    return elapsed, document.chunks_embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from memory.embeddings import get_embedder
    from memory.services import source_create

    embedder = get_embedder(settings.EMBEDDING_MODEL)
    data = make_pdf(args.pages)
    texts, _ = parse_and_chunk(data, embedder)
    tokens = sum(embedder.count_tokens(t) for t in texts)
    embedder.embed(texts[:8])  # load the model before anything is timed

    with tempfile.TemporaryDirectory() as media:
        settings.MEDIA_ROOT = media
        owner = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}")
        try:
            source = source_create(owner=owner, name="bench")
            raw, full, parse = [], [], []
            for _ in range(args.rounds):
                parse.append(parse_and_chunk(data, embedder)[1])
                raw.append(embed_raw(texts, embedder))
                elapsed, chunks = pipeline(owner, source, data)
                assert chunks == len(texts), (chunks, len(texts))
                full.append(elapsed)
        finally:
            owner.delete()  # its source, documents and passages go with it

    n = len(texts)
    best_raw, best_full, best_parse = min(raw), min(full), min(parse)
    print(f"{embedder.model}: {args.pages} pages, {n} chunks, {tokens} tokens "
          f"({tokens / n:.0f} per chunk), best of {args.rounds} rounds\n")
    print(table(["stage", "seconds", "chunks/s", "tokens/s", "pages/s"], [
        [name, f"{s:.2f}", f"{n / s:.1f}", f"{tokens / s:.0f}", f"{args.pages / s:.1f}"]
        for name, s in [("parse + chunk only", best_parse), ("embedder alone (raw)", best_raw),
                        ("pipeline: parse+chunk+embed+insert", best_full)]
    ]))
    print(f"\nratios: pipeline/raw throughput = {best_raw / best_full:.2f}; "
          f"pipeline overhead beyond the model = {(best_full - best_raw) / best_raw:+.1%}; "
          f"parse+chunk share of the pipeline = {best_parse / best_full:.1%}")


if __name__ == "__main__":
    main()
