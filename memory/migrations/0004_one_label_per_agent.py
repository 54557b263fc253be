"""One label per agent, in the database: attachments carry their block's label under a unique
constraint. An agent that already has two blocks with one label (possible before this) keeps both:
the later block gets its id appended to its label."""

from django.db import migrations, models


def copy_labels(apps, schema_editor):
    BlockAttachment = apps.get_model("memory", "BlockAttachment")
    Block = apps.get_model("memory", "Block")
    taken: set[tuple[int, str]] = set()  # (agent, label)
    for block in Block.objects.filter(blockattachment__isnull=False).distinct().order_by("id"):
        agents = list(BlockAttachment.objects.filter(block=block).values_list("agent_id", flat=True))
        if any((agent, block.label) in taken for agent in agents):
            block.label = f"{block.label[:80]}-{block.pk}"
            Block.objects.filter(pk=block.pk).update(label=block.label)
        taken |= {(agent, block.label) for agent in agents}
        BlockAttachment.objects.filter(block=block).update(label=block.label)


class Migration(migrations.Migration):
    dependencies = [("memory", "0003_builtin_templates")]

    operations = [
        migrations.AddField(model_name="blockattachment", name="label", field=models.CharField(default="", max_length=100),
                            preserve_default=False),
        migrations.RunPython(copy_labels, migrations.RunPython.noop),
        migrations.AddConstraint(model_name="blockattachment",
                                 constraint=models.UniqueConstraint(fields=("agent", "label"), name="one_label_per_agent")),
    ]
