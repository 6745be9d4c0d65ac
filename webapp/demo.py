"""Demo data for `flask seed-demo`: real kiryana products, a few stores, a little history."""
import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from werkzeug.security import check_password_hash

from webapp.extensions import db
from webapp.models import Store
from webapp.models.types import utcnow
from webapp.services import accounts, audit, catalog, commands, ledger

SEEDER = audit.Actor(user_id=None, source="web", ip="seed")

STORES = [
    ("KHI-0001", "Al-Madina Kiryana", "Karachi", "Shop 4, Block 13-D, Gulshan-e-Iqbal"),
    ("KHI-0002", "Bismillah General Store", "Karachi", "Main Tariq Road, PECHS"),
    ("LHE-0001", "Data Karyana Store", "Lahore", "Ichhra Bazaar, near Ferozepur Road"),
    ("LHE-0002", "Haji Sahib Kiryana", "Lahore", "Main Boulevard, Allama Iqbal Town"),
]

# (sku, name, category, unit, sale price, cost, reorder level)
PRODUCTS = [
    ("ATTA-10", "Sunridge Chakki Atta 10kg", "Atta & Flour", "pack", 1450, 1320, 10),
    ("ATTA-5", "Ashrafi Chakki Atta 5kg", "Atta & Flour", "pack", 760, 690, 10),
    ("ATTA-LOOSE", "Chakki Atta (loose)", "Atta & Flour", "kg", 145, 128, 25),
    ("MAIDA-1", "Maida 1kg", "Atta & Flour", "pack", 160, 140, 8),
    ("BESAN-500", "Besan 500g", "Atta & Flour", "pack", 220, 190, 6),
    ("SOOJI-500", "Sooji 500g", "Atta & Flour", "pack", 120, 100, 6),
    ("CHAWAL-BAS", "Basmati Chawal Super Kernel (loose)", "Rice", "kg", 420, 370, 20),
    ("CHAWAL-SEL", "Sella Chawal (loose)", "Rice", "kg", 340, 300, 20),
    ("CHAWAL-GUARD-5", "Guard Basmati 5kg", "Rice", "pack", 2350, 2150, 4),
    ("CHEENI", "Cheeni (loose)", "Sugar & Salt", "kg", 150, 138, 30),
    ("NAMAK-800", "National Iodized Namak 800g", "Sugar & Salt", "pack", 60, 48, 10),
    ("DAAL-MASOOR", "Daal Masoor (loose)", "Daal & Pulses", "kg", 320, 285, 10),
    ("DAAL-MOONG", "Daal Moong (loose)", "Daal & Pulses", "kg", 360, 320, 10),
    ("DAAL-CHANA", "Daal Chana (loose)", "Daal & Pulses", "kg", 290, 255, 10),
    ("DAAL-MASH", "Daal Mash (loose)", "Daal & Pulses", "kg", 480, 430, 8),
    ("CHANA-SAFED", "Safed Chana (loose)", "Daal & Pulses", "kg", 380, 335, 8),
    ("LOBIA", "Lobia (loose)", "Daal & Pulses", "kg", 400, 355, 5),
    ("GHEE-DALDA-1", "Dalda Banaspati Ghee 1kg", "Ghee & Oil", "pack", 560, 515, 12),
    ("GHEE-SUFI-5", "Sufi Banaspati Ghee 5kg tin", "Ghee & Oil", "piece", 2700, 2520, 3),
    ("OIL-HABIB-1", "Habib Cooking Oil 1 litre", "Ghee & Oil", "piece", 580, 535, 12),
    ("OIL-EVA-5", "Eva Cooking Oil 5 litre", "Ghee & Oil", "piece", 2850, 2650, 3),
    ("OIL-SARSON", "Sarson ka Tel (loose)", "Ghee & Oil", "litre", 620, 560, 5),
    ("DOODH-OLPERS-1", "Olper's Milk 1 litre", "Dairy", "piece", 290, 268, 24),
    ("DOODH-NESTLE-250", "Nestle Milkpak 250ml", "Dairy", "piece", 85, 76, 24),
    ("DOODH-LOOSE", "Khula Doodh", "Dairy", "litre", 220, 190, 20),
    ("DAHI-1", "Dahi (loose)", "Dairy", "kg", 240, 205, 5),
    ("BUTTER-100", "Nurpur Butter 100g", "Dairy", "piece", 220, 198, 6),
    ("ANDA", "Anday (eggs)", "Dairy", "dozen", 360, 330, 10),
    ("CHAI-TAPAL-950", "Tapal Danedar 950g", "Tea & Drinks", "pack", 1850, 1720, 6),
    ("CHAI-LIPTON-190", "Lipton Yellow Label 190g", "Tea & Drinks", "pack", 520, 475, 8),
    ("CHAI-VITAL-400", "Vital Tea 400g", "Tea & Drinks", "pack", 780, 720, 6),
    ("TANG-500", "Tang Orange 500g", "Tea & Drinks", "pack", 720, 660, 4),
    ("ROOH-AFZA", "Rooh Afza 800ml", "Tea & Drinks", "piece", 450, 410, 6),
    ("PEPSI-1.5", "Pepsi 1.5 litre", "Tea & Drinks", "piece", 200, 178, 12),
    ("WATER-NESTLE-1.5", "Nestle Pure Life 1.5 litre", "Tea & Drinks", "piece", 100, 84, 24),
    ("MIRCH-NATIONAL", "National Lal Mirch Powder 200g", "Spices", "pack", 330, 298, 6),
    ("HALDI-SHAN", "Shan Haldi Powder 200g", "Spices", "pack", 260, 232, 6),
    ("MASALA-BIRYANI", "Shan Biryani Masala", "Spices", "pack", 150, 132, 12),
    ("MASALA-NIHARI", "Shan Nihari Masala", "Spices", "pack", 150, 132, 8),
    ("ZEERA", "Zeera (loose)", "Spices", "g", 2.4, 2.0, 250),
    ("GARAM-MASALA", "National Garam Masala 100g", "Spices", "pack", 280, 250, 5),
    ("SABUN-LUX", "Lux Soap 150g", "Personal Care", "piece", 140, 122, 24),
    ("SABUN-LIFEBUOY", "Lifebuoy Soap 140g", "Personal Care", "piece", 120, 105, 24),
    ("SABUN-SAFEGUARD", "Safeguard Soap 135g", "Personal Care", "piece", 165, 146, 12),
    ("SHAMPOO-SUNSILK", "Sunsilk Shampoo 180ml", "Personal Care", "piece", 450, 405, 6),
    ("TOOTHPASTE-COLGATE", "Colgate Toothpaste 100g", "Personal Care", "piece", 280, 250, 10),
    ("SURF-1", "Surf Excel 1kg", "Household", "pack", 650, 590, 10),
    ("ARIEL-500", "Ariel 500g", "Household", "pack", 390, 350, 8),
    ("BRITE-1", "Bonus Tristar 1kg", "Household", "pack", 340, 305, 6),
    ("MATCH", "Maachis (match box) 10 pack", "Household", "pack", 60, 48, 10),
    ("DETTOL-500", "Dettol Liquid 500ml", "Household", "piece", 720, 660, 4),
    ("BISCUIT-PARLE", "Parle-G Biscuit", "Snacks", "pack", 30, 25, 30),
    ("BISCUIT-PRINCE", "LU Prince Biscuit", "Snacks", "pack", 60, 52, 24),
    ("BISCUIT-TUC", "LU Tuc", "Snacks", "pack", 50, 43, 24),
    ("LAYS-MASALA", "Lay's Masala 60g", "Snacks", "pack", 100, 88, 20),
    ("KURKURE", "Kurkure Chutney Chaska", "Snacks", "pack", 50, 43, 20),
    ("NIMCO", "Nimco mix (loose)", "Snacks", "kg", 900, 780, 3),
    ("SUGAR-FREE-COKE", "Coca-Cola 345ml can", "Tea & Drinks", "piece", 120, 104, 12),
    ("KETCHUP-NATIONAL", "National Ketchup 800g", "Sauces & Pickles", "piece", 450, 405, 4),
    ("ACHAR-SHAN", "Shan Mixed Achar 1kg", "Sauces & Pickles", "piece", 650, 590, 3),
    ("NOODLES-KNORR", "Knorr Chicken Noodles", "Snacks", "pack", 70, 61, 24),
    ("DOODH-PATTI-MIX", "Everyday Milk Powder 600g", "Dairy", "pack", 1250, 1150, 4),
]

ACCOUNTS = [
    ("admin", "chabi-demo-101", "admin", []),
    ("manager", "hisaab-demo-202", "manager", []),
    ("dukan", "galla-demo-303", "shopkeeper", ["KHI-0001", "KHI-0002"]),
]


def erase_everything():
    """Delete every row of every table (children first): the demo starts over, the schema stays."""
    db.session.remove()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def usable_accounts():
    """The demo accounts that still exist, are active and still have their demo password."""
    found = []
    for username, password, role, _ in ACCOUNTS:
        user = accounts.find_user(username)
        if user is not None and user.active and check_password_hash(user.password_hash, password):
            found.append((username, password, role))
    return found


def seed(force=False, days=14, seed_value=7, fresh_passwords=False):
    """Seed demo data; returns [(username, password, role)] or None if stores exist already.

    force: erase every row first (the whole database, not only the demo's), then seed.
    fresh_passwords: random passwords, shown once, instead of the demo's published ones (a
    demo seeded in production must not open with a password anyone can read in the README).
    """
    import secrets

    chosen = {username: secrets.token_urlsafe(12) if fresh_passwords else password
              for username, password, _role, _codes in ACCOUNTS}
    if force:
        erase_everything()
    elif db.session.execute(select(Store.id).limit(1)).first():
        return None
    rng = random.Random(seed_value)
    stores = [catalog.create_store(SEEDER, {"code": code, "name": name, "city": city,
                                            "address": address, "phone": "0300-1234567"})
              for code, name, city, address in STORES]
    products = []
    for i, (sku, name, category, unit, price, cost, reorder) in enumerate(PRODUCTS):
        products.append(catalog.create_product(SEEDER, {
            "sku": sku, "name": name, "category": category, "unit": unit,
            "sale_price": str(price), "cost": str(cost), "reorder_level": str(reorder),
            "barcode": f"8961000{i:06d}"}))
    supplier = catalog.create_supplier(SEEDER, {"name": "Metro Cash & Carry", "phone": "021-111-638-766"})
    catalog.create_supplier(SEEDER, {"name": "Jodia Bazaar Wholesale", "phone": "0321-2223344"})
    for username, _password, role, codes in ACCOUNTS:
        accounts.create_user(SEEDER, username, chosen[username], role=role, store_codes=codes,
                             full_name=username.title())

    start = utcnow() - timedelta(days=days)
    for store in stores:
        for product in products:
            quantity = Decimal(rng.randint(2, 8) * int(product.reorder_level or 1))
            ledger.record_movement(SEEDER, commands.Movement.parse(store_id=store.id,
                                                                   product_id=product.id,
                                                                   type="stock_in",
                                                                   quantity=quantity,
                                                                   supplier_id=supplier.id,
                                                                   occurred_at=start))
        for day in range(days):
            moment = start + timedelta(days=day, hours=rng.randint(1, 12))
            for product in rng.sample(products, 12):
                whole = product.unit in ("piece", "pack", "dozen")
                quantity = Decimal(rng.randint(1, 3)) if whole else \
                    Decimal(rng.randint(250, 3000)) / 1000
                try:
                    ledger.record_movement(SEEDER,
                        commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                type="sale", quantity=quantity,
                                                occurred_at=moment))
                except ledger.InsufficientStock:
                    pass
        ledger.record_movement(SEEDER, commands.Movement.parse(store_id=store.id,
                                                               product_id=products[27].id,
                                                               type="removal", quantity=1,
                                                               reason="damaged",
                                                               note="Tooti hui tray"))
    # A couple of low-stock rows so the badges and the report have something to show.
    for product in products[:3]:
        level = ledger.LEVELS
        current = db.session.execute(select(level.c.quantity).where(
            level.c.store_id == stores[0].id, level.c.product_id == product.id)).scalar()
        ledger.record_movement(SEEDER, commands.Movement.parse(store_id=stores[0].id,
                                                               product_id=product.id,
                                                               type="adjustment",
                                                               quantity=min(current, Decimal(2)),
                                                               reason="count"))
    audit.drain_all()
    return [(u, chosen[u], r) for u, _p, r, _ in ACCOUNTS]
