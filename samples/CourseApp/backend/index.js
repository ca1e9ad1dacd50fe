// The course's backend: an Express API that keeps orders in Postgres (through the pg package).
const express = require('express');
const { Pool } = require('pg');

const pool = new Pool({
  host: process.env.DB_HOST || 'database',
  port: Number(process.env.DB_PORT || 5432),
  user: process.env.DB_USER || 'postgres',
  password: process.env.DB_PASSWORD,
  database: process.env.DB_NAME || 'shop',
});

const app = express();
app.use(express.json());
app.use(express.text());

app.get('/api/health', async (req, res) => {
  try {
    await pool.query('SELECT 1');
    res.json({ status: 'ok' });
  } catch (e) {
    res.status(503).json({ status: 'database unavailable', error: e.message });
  }
});

app.get('/api/orders', async (req, res, next) => {
  try {
    const { rows } = await pool.query('SELECT id, item, created FROM orders ORDER BY id');
    res.json(rows);
  } catch (e) { next(e); }
});

app.post('/api/orders', async (req, res, next) => {
  const item = typeof req.body === 'string' ? req.body : req.body && req.body.item;
  if (!item) return res.status(400).json({ error: 'an order needs an item' });
  try {
    const { rows } = await pool.query('INSERT INTO orders (item) VALUES ($1) RETURNING id, item, created', [item]);
    res.status(201).json(rows[0]);
  } catch (e) { next(e); }
});

async function migrate() {
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('CREATE TABLE IF NOT EXISTS orders (id SERIAL PRIMARY KEY, item TEXT NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now())');
      return;
    } catch (e) {
      if (attempt >= 30) throw e;
      console.log(`waiting for the database (${e.message})`);
      await new Promise(r => setTimeout(r, 1000));
    }
  }
}

const port = Number(process.env.PORT || 3000);
migrate().then(() => {
  const server = app.listen(port, () => console.log(`backend listening on ${port}`));
  const stop = () => server.close(() => pool.end().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}, e => { console.error(e); process.exit(1); });
