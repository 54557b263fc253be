from django.core.management.base import BaseCommand

from memory import milvus


class Command(BaseCommand):
    help = ("Make Milvus hold exactly PostgreSQL's archival passages: copy those it lacks, remove those "
            "PostgreSQL no longer has (ARCHIVAL_VECTOR_STORE=milvus).")

    def add_arguments(self, parser):
        parser.add_argument("--rewrite", action="store_true",
                            help="copy every passage again, not only those Milvus lacks")

    def handle(self, *args, rewrite, **options):
        counts = milvus.sync(rewrite=rewrite)
        self.stdout.write(f"passages in PostgreSQL: {counts['passages']}; copied to Milvus: {counts['added']}; "
                          f"removed from Milvus: {counts['removed']}")
