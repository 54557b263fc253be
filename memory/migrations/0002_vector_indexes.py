from django.db import migrations

from memory.vectors import VECTOR_TABLES, index_name

# The default local embedding model (all-MiniLM-L6-v2, 384 dimensions). Other models get their
# indexes from memory.vectors.ensure_vector_indexes when they are first used.
MODEL, DIMENSIONS = "local/all-MiniLM-L6-v2", 384


def create(apps, schema_editor):
    from memory.vectors import ensure_vector_indexes

    ensure_vector_indexes(MODEL, DIMENSIONS, schema_editor=schema_editor)


def drop(apps, schema_editor):
    for table in VECTOR_TABLES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index_name(table, MODEL)}")


class Migration(migrations.Migration):
    dependencies = [("memory", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
