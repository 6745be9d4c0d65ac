"""batches: products.tracks_expiry, stock_batches (per store, product, expiry date and batch
code, with what remains) and movement_batches (append-only: which batches each movement took
from or added to)

Plain ADD COLUMN and two new tables on both engines. Movement ids carry no foreign key
(stock_movements is partitioned by month; its primary key is (id, created_at)).

Revision ID: batch_1
Revises: watch_2
"""
import sqlalchemy as sa
from alembic import op

revision = "batch_1"
down_revision = "watch_2"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QUANTITY = sa.Numeric(precision=14, scale=3)


def upgrade():
    op.add_column("products", sa.Column("tracks_expiry", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.create_table(
        "stock_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("batch_code", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_stock_batches_quantity_not_negative")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_stock_batches_product_id_products")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_stock_batches_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_batches")),
        sa.UniqueConstraint("store_id", "product_id", "expires_on", "batch_code",
                            name=op.f("uq_stock_batches_store_id")),
    )
    op.create_index("ix_stock_batches_product", "stock_batches", ["product_id"])
    op.create_index("ix_stock_batches_store_expires", "stock_batches", ["store_id", "expires_on"])
    op.create_table(
        "movement_batches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("movement_id", BIG_ID, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("delta", QUANTITY, nullable=False),
        sa.Column("from_movement_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["stock_batches.id"],
                                name=op.f("fk_movement_batches_batch_id_stock_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movement_batches")),
    )
    op.create_index("ix_movement_batches_movement", "movement_batches", ["movement_id"])
    op.create_index("ix_movement_batches_batch", "movement_batches", ["batch_id"])
    op.create_index("ix_movement_batches_from_movement", "movement_batches",
                    ["from_movement_id"])


def downgrade():
    op.drop_table("movement_batches")
    op.drop_table("stock_batches")
    op.drop_column("products", "tracks_expiry")
