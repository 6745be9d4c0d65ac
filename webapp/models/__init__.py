"""All models, importable from one place (Alembic sees every table through this)."""
from webapp.models.audit import AuditLog, AuditOutbox
from webapp.models.batch import MovementBatch, StockBatch
from webapp.models.count import CountDraft
from webapp.models.khata import (
                                  CUSTOMER_ENTRY_KINDS,
                                  LANGUAGES,
                                  PAYMENT_METHODS,
                                  RECEIVE_METHODS,
                                  SUPPLIER_ENTRY_KINDS,
                                  Customer,
                                  CustomerEntry,
                                  DailyClosing,
                                  SupplierBalance,
                                  SupplierEntry,
)
from webapp.models.product import PACK_NAMES, UNITS, WHOLE_UNITS, Product
from webapp.models.purchasing import (
                                  IMPORT_KINDS,
                                  ORDER_STATUSES,
                                  ImportJob,
                                  PurchaseOrder,
                                  PurchaseOrderLine,
                                  PurchaseReceipt,
                                  PurchaseReceiptLine,
)
from webapp.models.report import (
                                  CustomerReceivableAges,
                                  DailyPaymentSummary,
                                  DailyProductSummary,
                                  DailyStoreSummary,
                                  DailyTypeSummary,
                                  MonthlyProductSummary,
                                  MonthlyStoreSummary,
                                  ReceivableAges,
                                  ReportRollupState,
                                  StoreStockSummary,
)
from webapp.models.stock import (
                                  ADJUSTMENT_REASONS,
                                  MOVEMENT_TYPES,
                                  REMOVAL_REASONS,
                                  SALE_REVERSAL_TYPES,
                                  SOURCES,
                                  DailyStockSummary,
                                  IdempotencyRecord,
                                  StockLevel,
                                  StockMovement,
)
from webapp.models.sale import REVERSAL_KINDS, SALE_STATUSES, Sale, SaleCounter, SaleLine, SaleReversal
from webapp.models.expiry import ExpiryRound
from webapp.models.store import Store, Supplier
from webapp.models.sync import SyncItem, SyncJob
from webapp.models.user import ROLES, ApiToken, User, user_stores
from webapp.models.watch import LedgerWatch, LedgerWatchStore
from webapp.models.webhook import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ADJUSTMENT_REASONS", "CountDraft", "MOVEMENT_TYPES", "REMOVAL_REASONS", "ROLES", "SOURCES", "UNITS", "PACK_NAMES",
    "WHOLE_UNITS", "ApiToken", "AuditLog", "AuditOutbox", "DailyProductSummary", "DailyStockSummary",
    "CustomerReceivableAges", "DailyPaymentSummary", "DailyStoreSummary", "DailyTypeSummary", "MonthlyProductSummary", "MonthlyStoreSummary", "ReceivableAges", "ReportRollupState",
    "StoreStockSummary",
    "IdempotencyRecord", "Product", "StockLevel", "StockMovement", "Store", "Supplier", "ExpiryRound",
    "SyncItem", "SyncJob", "User", "user_stores",
    "REVERSAL_KINDS", "SALE_REVERSAL_TYPES", "SALE_STATUSES", "Sale", "SaleCounter", "SaleLine", "SaleReversal",
    "IMPORT_KINDS", "ORDER_STATUSES", "ImportJob", "PurchaseOrder", "PurchaseOrderLine",
    "PurchaseReceipt", "PurchaseReceiptLine", "LedgerWatch", "LedgerWatchStore",
    "CUSTOMER_ENTRY_KINDS", "LANGUAGES", "PAYMENT_METHODS", "RECEIVE_METHODS",
    "SUPPLIER_ENTRY_KINDS", "Customer", "CustomerEntry", "DailyClosing", "SupplierBalance",
    "SupplierEntry", "EVENT_TYPES", "WebhookDelivery", "WebhookEndpoint",
    "MovementBatch", "StockBatch",
]
