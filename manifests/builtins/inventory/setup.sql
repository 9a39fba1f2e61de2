-- Run once by toolctl to create inventory.db beside this file, the first time an inventory action runs.
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity >= 0),
  cost_cents INTEGER NOT NULL DEFAULT 0
);
INSERT INTO items (sku, name, quantity, cost_cents) VALUES
  ('HAM-1', 'Claw hammer', 12, 1599),
  ('SAW-2', 'Hand saw', 4, 2450),
  ('NAIL-100', 'Nails, box of 100', 80, 399);
