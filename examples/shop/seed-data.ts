// The demo data `npm run seed` loads: a small coffee-and-kitchen shop with its customers and a few weeks of orders.
import type { InputOf } from 'chronicle-es';
import { DEMO_CUSTOMER_ID } from './auth.js';
import type { CreateProduct } from './messages/catalog.js';
import type { RegisterCustomer } from './messages/customers.js';

type Product = InputOf<typeof CreateProduct> & { stock: number };

export const products: Product[] = [
  {
    productId: 'espresso-blend',
    sku: 'COF-ESP-250',
    name: 'House Espresso Blend, 250 g',
    priceCents: 1190,
    currency: 'EUR',
    stock: 120,
    description: 'Dark roast, notes of cocoa and hazelnut.',
  },
  {
    productId: 'ethiopia-yirgacheffe',
    sku: 'COF-ETH-250',
    name: 'Ethiopia Yirgacheffe, 250 g',
    priceCents: 1450,
    currency: 'EUR',
    stock: 80,
    description: 'Washed, light roast; jasmine and lemon.',
  },
  {
    productId: 'colombia-huila',
    sku: 'COF-COL-250',
    name: 'Colombia Huila, 250 g',
    priceCents: 1290,
    currency: 'EUR',
    stock: 90,
  },
  {
    productId: 'decaf-swiss-water',
    sku: 'COF-DEC-250',
    name: 'Decaf Swiss Water, 250 g',
    priceCents: 1250,
    currency: 'EUR',
    stock: 40,
  },
  {
    productId: 'sumatra-mandheling',
    sku: 'COF-SUM-1000',
    name: 'Sumatra Mandheling, 1 kg',
    priceCents: 3990,
    currency: 'EUR',
    stock: 25,
  },
  { productId: 'sencha-tea', sku: 'TEA-SEN-100', name: 'Japanese Sencha, 100 g', priceCents: 990, currency: 'EUR', stock: 60 },
  {
    productId: 'earl-grey-tea',
    sku: 'TEA-EGR-100',
    name: 'Earl Grey with Bergamot, 100 g',
    priceCents: 790,
    currency: 'EUR',
    stock: 75,
  },
  { productId: 'chai-tea', sku: 'TEA-CHA-100', name: 'Masala Chai, 100 g', priceCents: 850, currency: 'EUR', stock: 50 },
  { productId: 'matcha', sku: 'TEA-MAT-30', name: 'Ceremonial Matcha, 30 g', priceCents: 2400, currency: 'EUR', stock: 30 },
  {
    productId: 'v60-dripper',
    sku: 'BRW-V60-02',
    name: 'Ceramic Pour-Over Dripper, size 02',
    priceCents: 2490,
    currency: 'EUR',
    stock: 35,
  },
  {
    productId: 'paper-filters',
    sku: 'BRW-FLT-100',
    name: 'Paper Filters, 100 pack',
    priceCents: 590,
    currency: 'EUR',
    stock: 200,
  },
  { productId: 'french-press', sku: 'BRW-FPR-1000', name: 'French Press, 1 l', priceCents: 3490, currency: 'EUR', stock: 20 },
  { productId: 'moka-pot', sku: 'BRW-MOK-6', name: 'Aluminium Moka Pot, 6 cups', priceCents: 2990, currency: 'EUR', stock: 25 },
  { productId: 'aeropress', sku: 'BRW-AER-1', name: 'AeroPress Coffee Maker', priceCents: 3990, currency: 'EUR', stock: 18 },
  {
    productId: 'gooseneck-kettle',
    sku: 'BRW-KET-1000',
    name: 'Gooseneck Kettle with Thermometer',
    priceCents: 5990,
    currency: 'EUR',
    stock: 12,
  },
  {
    productId: 'burr-grinder',
    sku: 'GRD-BUR-1',
    name: 'Conical Burr Grinder',
    priceCents: 12900,
    currency: 'EUR',
    stock: 8,
    description: '40 grind settings, stainless steel burrs.',
  },
  {
    productId: 'hand-grinder',
    sku: 'GRD-HND-1',
    name: 'Hand Grinder, Ceramic Burrs',
    priceCents: 4490,
    currency: 'EUR',
    stock: 15,
  },
  { productId: 'digital-scale', sku: 'ACC-SCL-1', name: 'Coffee Scale with Timer', priceCents: 2990, currency: 'EUR', stock: 22 },
  { productId: 'milk-frother', sku: 'ACC-FRO-1', name: 'Handheld Milk Frother', priceCents: 1490, currency: 'EUR', stock: 40 },
  { productId: 'tamper', sku: 'ACC-TMP-58', name: 'Espresso Tamper, 58 mm', priceCents: 2790, currency: 'EUR', stock: 14 },
  { productId: 'knock-box', sku: 'ACC-KNB-1', name: 'Knock Box', priceCents: 1990, currency: 'EUR', stock: 16 },
  { productId: 'stoneware-mug', sku: 'MUG-STN-350', name: 'Stoneware Mug, 350 ml', priceCents: 1450, currency: 'EUR', stock: 64 },
  { productId: 'espresso-cups', sku: 'MUG-ESP-2', name: 'Espresso Cups, set of 2', priceCents: 1890, currency: 'EUR', stock: 30 },
  {
    productId: 'travel-mug',
    sku: 'MUG-TRV-400',
    name: 'Insulated Travel Mug, 400 ml',
    priceCents: 2490,
    currency: 'EUR',
    stock: 45,
  },
  { productId: 'glass-carafe', sku: 'KIT-CRF-600', name: 'Glass Carafe, 600 ml', priceCents: 1990, currency: 'EUR', stock: 26 },
  {
    productId: 'cast-iron-skillet',
    sku: 'KIT-SKL-26',
    name: 'Cast Iron Skillet, 26 cm',
    priceCents: 4990,
    currency: 'EUR',
    stock: 10,
  },
  { productId: 'chef-knife', sku: 'KIT-KNF-20', name: 'Chef’s Knife, 20 cm', priceCents: 7900, currency: 'EUR', stock: 12 },
  {
    productId: 'cutting-board',
    sku: 'KIT-BRD-40',
    name: 'Oak Cutting Board, 40 cm',
    priceCents: 3900,
    currency: 'EUR',
    stock: 18,
  },
  { productId: 'linen-apron', sku: 'KIT-APR-1', name: 'Linen Apron', priceCents: 3200, currency: 'EUR', stock: 20 },
  { productId: 'biscotti', sku: 'SNK-BIS-200', name: 'Almond Biscotti, 200 g', priceCents: 650, currency: 'EUR', stock: 70 },
  {
    productId: 'dark-chocolate',
    sku: 'SNK-CHO-100',
    name: 'Dark Chocolate 72 %, 100 g',
    priceCents: 450,
    currency: 'EUR',
    stock: 90,
  },
  { productId: 'gift-card', sku: 'GFT-CRD-25', name: 'Gift Card, €25', priceCents: 2500, currency: 'EUR', stock: 500 },
  { productId: 'cold-brew-kit', sku: 'BRW-CLD-1', name: 'Cold Brew Kit', priceCents: 3490, currency: 'EUR', stock: 0 },
  { productId: 'descaler', sku: 'ACC-DSC-500', name: 'Machine Descaler, 500 ml', priceCents: 990, currency: 'EUR', stock: 35 },
];

/** Taken off sale after launch; its old orders keep it. */
export const discontinued = ['descaler'];

/** Price changes since launch. */
export const priceChanges: Array<{ productId: string; priceCents: number }> = [
  { productId: 'ethiopia-yirgacheffe', priceCents: 1550 },
  { productId: 'burr-grinder', priceCents: 11900 },
];

type Customer = InputOf<typeof RegisterCustomer>;

export const customers: Customer[] = [
  {
    customerId: DEMO_CUSTOMER_ID,
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    address: { street: '12 St James’s Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  },
  {
    customerId: 'grace',
    name: 'Grace Hopper',
    email: 'grace.hopper@example.org',
    address: { street: '1 Navy Yard', city: 'Arlington', postalCode: '22202', country: 'US' },
  },
  {
    customerId: 'alan',
    name: 'Alan Turing',
    email: 'alan@example.co.uk',
    address: { street: 'Hollymeade, Adlington Road', city: 'Wilmslow', postalCode: 'SK9 2BS', country: 'GB' },
  },
  { customerId: 'margaret', name: 'Margaret Hamilton', email: 'm.hamilton@example.com' },
  {
    customerId: 'edsger',
    name: 'Edsger Dijkstra',
    email: 'ewd@example.nl',
    address: { street: 'Plataanstraat 5', city: 'Nuenen', postalCode: '5671 AL', country: 'NL' },
  },
  {
    customerId: 'barbara',
    name: 'Barbara Liskov',
    email: 'liskov@example.edu',
    address: { street: '32 Vassar Street', city: 'Cambridge', postalCode: '02139', country: 'US' },
  },
  { customerId: 'donald', name: 'Donald Knuth', email: 'knuth@example.edu' },
  {
    customerId: 'frances',
    name: 'Frances Allen',
    email: 'fran.allen@example.com',
    address: { street: '1101 Kitchawan Road', city: 'Yorktown Heights', postalCode: '10598', country: 'US' },
  },
  {
    customerId: 'niklaus',
    name: 'Niklaus Wirth',
    email: 'wirth@example.ch',
    address: { street: 'Universitätstrasse 6', city: 'Zürich', postalCode: '8092', country: 'CH' },
  },
  { customerId: 'radia', name: 'Radia Perlman', email: 'radia@example.net' },
  {
    customerId: 'ken',
    name: 'Ken Thompson',
    email: 'ken@example.com',
    address: { street: '600 Mountain Avenue', city: 'Murray Hill', postalCode: '07974', country: 'US' },
  },
  {
    customerId: 'karen',
    name: 'Karen Spärck Jones',
    email: 'ksj@example.ac.uk',
    address: { street: '15 JJ Thomson Avenue', city: 'Cambridge', postalCode: 'CB3 0FD', country: 'GB' },
  },
];

type OrderPlan = {
  orderId: string;
  customerId: string;
  lines: Array<{ productId: string; quantity: number }>;
  /** How far the order got. */
  progress?: 'paid' | 'shipped' | 'cancelled' | 'paid-then-cancelled';
};

export const orders: OrderPlan[] = [
  {
    orderId: 'ord-1001',
    customerId: DEMO_CUSTOMER_ID,
    lines: [
      { productId: 'espresso-blend', quantity: 2 },
      { productId: 'stoneware-mug', quantity: 2 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1002',
    customerId: 'grace',
    lines: [
      { productId: 'burr-grinder', quantity: 1 },
      { productId: 'ethiopia-yirgacheffe', quantity: 1 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1003',
    customerId: 'alan',
    lines: [
      { productId: 'earl-grey-tea', quantity: 3 },
      { productId: 'biscotti', quantity: 2 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1004',
    customerId: 'margaret',
    lines: [
      { productId: 'aeropress', quantity: 1 },
      { productId: 'paper-filters', quantity: 1 },
    ],
    progress: 'paid',
  },
  {
    orderId: 'ord-1005',
    customerId: 'edsger',
    lines: [
      { productId: 'moka-pot', quantity: 1 },
      { productId: 'espresso-blend', quantity: 1 },
      { productId: 'descaler', quantity: 1 },
    ],
    progress: 'shipped',
  },
  { orderId: 'ord-1006', customerId: 'barbara', lines: [{ productId: 'matcha', quantity: 2 }], progress: 'cancelled' },
  {
    orderId: 'ord-1007',
    customerId: 'donald',
    lines: [
      { productId: 'chef-knife', quantity: 1 },
      { productId: 'cutting-board', quantity: 1 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1008',
    customerId: DEMO_CUSTOMER_ID,
    lines: [
      { productId: 'v60-dripper', quantity: 1 },
      { productId: 'paper-filters', quantity: 2 },
      { productId: 'gooseneck-kettle', quantity: 1 },
    ],
    progress: 'paid',
  },
  {
    orderId: 'ord-1009',
    customerId: 'frances',
    lines: [
      { productId: 'french-press', quantity: 1 },
      { productId: 'colombia-huila', quantity: 2 },
    ],
    progress: 'paid-then-cancelled',
  },
  {
    orderId: 'ord-1010',
    customerId: 'niklaus',
    lines: [
      { productId: 'hand-grinder', quantity: 1 },
      { productId: 'sumatra-mandheling', quantity: 1 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1011',
    customerId: 'radia',
    lines: [
      { productId: 'travel-mug', quantity: 2 },
      { productId: 'chai-tea', quantity: 1 },
    ],
    progress: 'paid',
  },
  {
    orderId: 'ord-1012',
    customerId: 'ken',
    lines: [
      { productId: 'digital-scale', quantity: 1 },
      { productId: 'espresso-blend', quantity: 3 },
    ],
  },
  {
    orderId: 'ord-1013',
    customerId: 'karen',
    lines: [
      { productId: 'sencha-tea', quantity: 2 },
      { productId: 'dark-chocolate', quantity: 4 },
    ],
    progress: 'shipped',
  },
  { orderId: 'ord-1014', customerId: 'grace', lines: [{ productId: 'gift-card', quantity: 2 }], progress: 'paid' },
  {
    orderId: 'ord-1015',
    customerId: 'alan',
    lines: [
      { productId: 'cast-iron-skillet', quantity: 1 },
      { productId: 'linen-apron', quantity: 1 },
    ],
  },
  {
    orderId: 'ord-1016',
    customerId: DEMO_CUSTOMER_ID,
    lines: [
      { productId: 'espresso-cups', quantity: 1 },
      { productId: 'tamper', quantity: 1 },
      { productId: 'knock-box', quantity: 1 },
    ],
  },
  {
    orderId: 'ord-1017',
    customerId: 'barbara',
    lines: [
      { productId: 'milk-frother', quantity: 1 },
      { productId: 'decaf-swiss-water', quantity: 2 },
    ],
    progress: 'shipped',
  },
  {
    orderId: 'ord-1018',
    customerId: 'donald',
    lines: [
      { productId: 'glass-carafe', quantity: 1 },
      { productId: 'ethiopia-yirgacheffe', quantity: 2 },
    ],
    progress: 'cancelled',
  },
];
