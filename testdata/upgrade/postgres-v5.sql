CREATE TABLE jifen_fixture.accounts (
    brand_id text NOT NULL,
    customer_id text NOT NULL,
    available bigint NOT NULL,
    frozen bigint NOT NULL,
    debt bigint NOT NULL,
    total_earned bigint NOT NULL,
    total_used bigint NOT NULL,
    total_expired bigint NOT NULL,
    seq bigint NOT NULL,
    last_hash text NOT NULL,
    version bigint NOT NULL,
    lot_seq bigint DEFAULT 0 NOT NULL,
    alloc_seq bigint DEFAULT 0 NOT NULL,
    CONSTRAINT accounts_available_check CHECK ((available >= 0)),
    CONSTRAINT accounts_debt_check CHECK ((debt >= 0)),
    CONSTRAINT accounts_frozen_check CHECK ((frozen >= 0)),
    CONSTRAINT accounts_seq_check CHECK ((seq >= 0))
);
CREATE TABLE jifen_fixture.allocations (
    flow_id text NOT NULL,
    lot_id text NOT NULL,
    brand_id text NOT NULL,
    customer_id text NOT NULL,
    order_ref text NOT NULL,
    kind text NOT NULL,
    amount bigint NOT NULL,
    seq bigint NOT NULL
);
CREATE TABLE jifen_fixture.apps (
    app_key text NOT NULL,
    secret text NOT NULL,
    name text NOT NULL,
    active boolean NOT NULL,
    channels jsonb NOT NULL,
    brands jsonb NOT NULL,
    rate_limit double precision NOT NULL,
    CONSTRAINT apps_rate_limit_check CHECK ((rate_limit >= (0)::double precision))
);
CREATE TABLE jifen_fixture.brand_out_ids (
    channel text NOT NULL,
    out_id text NOT NULL,
    brand_id text NOT NULL
);
CREATE TABLE jifen_fixture.brands (
    brand_id text NOT NULL,
    name text NOT NULL,
    time_zone text NOT NULL,
    settings jsonb NOT NULL
);
CREATE TABLE jifen_fixture.console_sessions_ended (
    nonce text NOT NULL,
    expires_at bigint NOT NULL
);
CREATE TABLE jifen_fixture.customers (
    customer_id text NOT NULL,
    brand_id text NOT NULL,
    mobile text NOT NULL,
    name text NOT NULL,
    level_id text NOT NULL,
    customer_type integer NOT NULL,
    channel text NOT NULL,
    outer_type text NOT NULL,
    outer_id text NOT NULL,
    gender text NOT NULL,
    email text NOT NULL,
    birthday text NOT NULL,
    address text NOT NULL,
    remark text NOT NULL,
    shop_id text NOT NULL,
    created_at bigint NOT NULL
);
CREATE TABLE jifen_fixture.flows (
    flow_id text NOT NULL,
    brand_id text NOT NULL,
    customer_id text NOT NULL,
    seq bigint NOT NULL,
    type text NOT NULL,
    amount bigint NOT NULL,
    delta_available bigint NOT NULL,
    delta_frozen bigint NOT NULL,
    delta_debt bigint NOT NULL,
    remain_point bigint NOT NULL,
    out_biz_id text NOT NULL,
    reverse_order_id text NOT NULL,
    shop_id text NOT NULL,
    shop_name text NOT NULL,
    channel text NOT NULL,
    app_key text NOT NULL,
    request_id text NOT NULL,
    operator_id text NOT NULL,
    operator_name text NOT NULL,
    reason text NOT NULL,
    rule_version bigint NOT NULL,
    policy text NOT NULL,
    created_at bigint NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    CONSTRAINT flows_amount_check CHECK ((amount >= 0))
);
CREATE TABLE jifen_fixture.holds (
    brand_id text NOT NULL,
    outer_order_id text NOT NULL,
    customer_id text NOT NULL,
    amount bigint NOT NULL,
    remaining bigint NOT NULL,
    verified bigint NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    flow_id text NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT holds_amount_check CHECK ((amount >= 0)),
    CONSTRAINT holds_remaining_check CHECK ((remaining >= 0)),
    CONSTRAINT holds_verified_check CHECK ((verified >= 0))
);
CREATE TABLE jifen_fixture.idempotency (
    app_key text NOT NULL,
    request_id text NOT NULL,
    method text NOT NULL,
    fingerprint text NOT NULL,
    flow_id text NOT NULL,
    result text NOT NULL,
    created_at bigint NOT NULL
);
CREATE TABLE jifen_fixture.lots (
    lot_id text NOT NULL,
    brand_id text NOT NULL,
    customer_id text NOT NULL,
    granted bigint NOT NULL,
    remaining bigint NOT NULL,
    earned_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    flow_id text NOT NULL,
    out_biz_id text NOT NULL,
    seq bigint NOT NULL,
    CONSTRAINT lots_remaining CHECK (((0 <= remaining) AND (remaining <= granted)))
);
CREATE TABLE jifen_fixture.orders (
    brand_id text NOT NULL,
    out_biz_id text NOT NULL,
    customer_id text NOT NULL,
    spent bigint NOT NULL,
    reversed bigint NOT NULL,
    granted bigint NOT NULL,
    clawed_back bigint NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT orders_clawed_back CHECK ((clawed_back <= granted)),
    CONSTRAINT orders_clawed_back_check CHECK ((clawed_back >= 0)),
    CONSTRAINT orders_granted_check CHECK ((granted >= 0)),
    CONSTRAINT orders_reversed CHECK ((reversed <= spent)),
    CONSTRAINT orders_reversed_check CHECK ((reversed >= 0)),
    CONSTRAINT orders_spent_check CHECK ((spent >= 0))
);
CREATE TABLE jifen_fixture.reversals (
    brand_id text NOT NULL,
    reverse_order_id text NOT NULL,
    out_biz_id text NOT NULL,
    customer_id text NOT NULL,
    type text NOT NULL,
    requested bigint NOT NULL,
    amount bigint NOT NULL,
    flow_id text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT reversals_amount_check CHECK ((amount >= 0)),
    CONSTRAINT reversals_requested_check CHECK ((requested >= 0))
);
CREATE TABLE jifen_fixture.rules (
    brand_id text NOT NULL,
    version bigint NOT NULL,
    rule_id text NOT NULL,
    body jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE TABLE jifen_fixture.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at bigint NOT NULL
);
CREATE TABLE jifen_fixture.shop_out_ids (
    channel text NOT NULL,
    out_id text NOT NULL,
    shop_id text NOT NULL
);
CREATE TABLE jifen_fixture.shops (
    shop_id text NOT NULL,
    brand_id text NOT NULL,
    name text NOT NULL
);
INSERT INTO jifen_fixture.accounts VALUES ('fx-brand', 'fx-c1', 0, 0, 0, 500, 20, 480, 8, '2:5646be6a9d90fb1cc5f2066206ad341a2c796565beaa2ed2a36f872a130c4014', 7, 1, 8);
INSERT INTO jifen_fixture.accounts VALUES ('fx-brand', 'fx-c2', 80, 0, 0, 725, 430, 215, 14, '2:ce8bb3b4f31276d807671bd93e7668182266967459e7f289dec82d8404c06590', 13, 4, 11);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBH19J0064BS8FTG1W5E', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'o-fx-c1', 'spend', 120, 1);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBJ87SM2QV83M14FA3BM', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'o-fx-c1', 'spend', -40, 2);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBMFN4D3QGHQX1X8ZP0F', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'o-fx-c2', 'spend', 120, 1);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBNHMH14GG6HYJMW48HP', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'o-fx-c2', 'spend', -40, 2);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBPNHPA77KER8KZRTA1H', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'o-fx-c1', 'spend', -80, 3);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBQS5BGDP3F4QBEWRVS2', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'x-fx-c2', 'spend', 30, 3);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBS0APCAHK8FFQG06S4S', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'h-1', 'hold', 50, 4);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBT4WF1YRY9KHB8JEH9S', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'h-1', 'hold', -20, 5);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBT4WF1YRY9KHB8JEH9S', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'h-1', 'spend', 20, 6);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBT4WF1YRY9KHE4BS7M0', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 'h-1', 'hold', -30, 7);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBV8P52WF2YP9XVX4CHX', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'h-2', 'hold', 10, 4);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBW2DACCVE3FDX79HR9J', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'h-2', 'hold', -10, 5);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBZ6J3GDZ2VZ1EGCYS94', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'x2-fx-c2', 'spend', 390, 6);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZBZ6J3GDZ2VZ1EGCYS94', '01M987ZBX07SPWJP7FAK8QDM9R', 'fx-brand', 'fx-c2', 'x2-fx-c2', 'spend', 10, 7);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZC08NV31VQ4GECM48C8Z', '01M987ZBY3SWTXJ5S5Y5RQY4KP', 'fx-brand', 'fx-c2', 'g2-fx-c2', 'clawback', 100, 8);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZC8Z2HTZ10A1ZWY5MKS3', '01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', '', 'expire', 480, 8);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZC91X6T1CCGKT0YZTQ31', '01M987ZBX07SPWJP7FAK8QDM9R', 'fx-brand', 'fx-c2', '', 'expire', 15, 9);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZC91X6T1CCGKT2VVPGMA', '01M987ZC19DS3T2C10DB75VB4A', 'fx-brand', 'fx-c2', '', 'expire', 200, 10);
INSERT INTO jifen_fixture.allocations VALUES ('01M987ZF0ZRX5H8DM8XTKTQR9N', '01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 'o-fx-c2', 'spend', -80, 11);
INSERT INTO jifen_fixture.apps VALUES ('fx-pos', 'fx-secret-0123456789', 'fixture POS', true, '["KRY", "CS"]', '["fx-brand", "fx-brand-2"]', 0);
INSERT INTO jifen_fixture.brand_out_ids VALUES ('KRY', 'kry-fx', 'fx-brand');
INSERT INTO jifen_fixture.brands VALUES ('fx-brand', '夹具餐饮', 'Asia/Shanghai', '{"grace_days": 30, "hold_timeout": 1800000000000, "refund_of_expired": "grace", "clawback_shortfall": "debt"}');
INSERT INTO jifen_fixture.brands VALUES ('fx-brand-2', '第二品牌', 'Asia/Shanghai', '{"grace_days": 30, "hold_timeout": 1800000000000, "refund_of_expired": "grace", "clawback_shortfall": "reject"}');
INSERT INTO jifen_fixture.customers VALUES ('fx-c1', 'fx-brand', '13900000001', '张三', 'L1', 1, '', '', '', '', '', '', '', '', '', 1796646874322052);
INSERT INTO jifen_fixture.customers VALUES ('fx-c2', 'fx-brand', '13900000002', '李四', 'L1', 1, '', '', '', '', '', '', '', '', '', 1796646874322052);
INSERT INTO jifen_fixture.customers VALUES ('fx-c9', 'fx-brand-2', '13900000009', '王九', '', 1, '', '', '', '', '', '', '', '', '', 1796646874322052);
INSERT INTO jifen_fixture.customers VALUES ('01M987ZBEGFHHC20SCV6ESYMCF', 'fx-brand', '13900000077', '新会员', '', 1, 'KRY', 'KRY_MEMBER', 'm-77', '', '', '', '', '', '', 1796646874574496);
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBFWH2FJ4ZZMHAP9NV14', 'fx-brand', 'fx-c1', 1, 'EXTRA_CHARGE', 500, 500, 0, 0, 500, 'g-fx-c1', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'g-fx-c1', 'op1', '小王', '', 1, '', 1796646874615392, '', '2:1d450a8a558ae6550c6abee7906746ad0d5b31b0d98b0760eb6becd4db6c267a');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBH19J0064BS8FTG1W5E', 'fx-brand', 'fx-c1', 2, 'DEDUCT_FROM_CONSUME', 120, -120, 0, 0, 380, 'o-fx-c1', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'p-fx-c1', 'op1', '小王', '', 1, '', 1796646874656412, '2:1d450a8a558ae6550c6abee7906746ad0d5b31b0d98b0760eb6becd4db6c267a', '2:5c572bf496b4c8296a7ccc0bb762d61573c5a341237988e8ef46dd736cc77b6d');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBJ87SM2QV83M14FA3BM', 'fx-brand', 'fx-c1', 3, 'DEDUCT_FROM_CONSUME_REVERSE', 40, 40, 0, 0, 420, 'o-fx-c1', 'r1-fx-c1', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'r1-fx-c1', 'op1', '小王', '', 1, '', 1796646874693725, '2:5c572bf496b4c8296a7ccc0bb762d61573c5a341237988e8ef46dd736cc77b6d', '2:68cf33e7ad59802a1d62a9413af42ee3f6d8fa9e5831053280d230e7488f20bc');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBKAFJPEXWY5R8W5RV7N', 'fx-brand', 'fx-c2', 1, 'EXTRA_CHARGE', 500, 500, 0, 0, 500, 'g-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'g-fx-c2', 'op1', '小王', '', 1, '', 1796646874729306, '', '2:b4b9aed759200806083757fddbd41df83e2f613ef3e7eb03c7a9d7e0be1ca17a');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBMFN4D3QGHQX1X8ZP0F', 'fx-brand', 'fx-c2', 2, 'DEDUCT_FROM_CONSUME', 120, -120, 0, 0, 380, 'o-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'p-fx-c2', 'op1', '小王', '', 1, '', 1796646874765821, '2:b4b9aed759200806083757fddbd41df83e2f613ef3e7eb03c7a9d7e0be1ca17a', '2:da55cd6f5ecfb0a05f2a2ffa47bd683e28a4ef9fb740592f0aaa40b70a12952d');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBNHMH14GG6HYJMW48HP', 'fx-brand', 'fx-c2', 3, 'DEDUCT_FROM_CONSUME_REVERSE', 40, 40, 0, 0, 420, 'o-fx-c2', 'r1-fx-c2', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'r1-fx-c2', 'op1', '小王', '', 1, '', 1796646874799851, '2:da55cd6f5ecfb0a05f2a2ffa47bd683e28a4ef9fb740592f0aaa40b70a12952d', '2:90cdce2de447e6cbfc96a1b1dec6a81e088535b2f81d23c4c833a0d83c61f51d');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBPNHPA77KER8KZRTA1H', 'fx-brand', 'fx-c1', 4, 'DEDUCT_FROM_CONSUME_REVERSE', 80, 80, 0, 0, 500, 'o-fx-c1', 'r2-fx-c1', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'r2-fx-c1', 'op1', '小王', '', 1, '', 1796646874835938, '2:68cf33e7ad59802a1d62a9413af42ee3f6d8fa9e5831053280d230e7488f20bc', '2:57a6980515f34ce4abb08b573e84bc7640e351672a59d5c293d9b86de146630b');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBQS5BGDP3F4QBEWRVS2', 'fx-brand', 'fx-c2', 4, 'EXTRA_CONSUME', 30, -30, 0, 0, 390, 'x-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'x-fx-c2', 'op1', '小王', '', 1, '', 1796646874872393, '2:90cdce2de447e6cbfc96a1b1dec6a81e088535b2f81d23c4c833a0d83c61f51d', '2:a9002a18ac68040816f28bdbe09011ea82a668441d085f8fa92d867660153a08');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBS0APCAHK8FFQG06S4S', 'fx-brand', 'fx-c1', 5, 'FREEZE', 50, -50, 50, 0, 450, 'h-1', '', 'fx-shop-1', '西湖店', '', 'fx-pos', 'h-1f', 'op1', '', '', 1, '', 1796646874910828, '2:57a6980515f34ce4abb08b573e84bc7640e351672a59d5c293d9b86de146630b', '2:801fe52488c95a56f169bd3077dc297ef51bae7ed980693d9e260dcdfd663225');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBT4WF1YRY9KHB8JEH9S', 'fx-brand', 'fx-c1', 6, 'VERIFY', 20, 0, -20, 0, 450, 'h-1', '', 'fx-shop-1', '西湖店', '', 'fx-pos', 'h-1v', 'op1', '', '', 1, '', 1796646874946850, '2:801fe52488c95a56f169bd3077dc297ef51bae7ed980693d9e260dcdfd663225', '2:f2fd115951ab92506fd564fc79f1392932c3e41c76b9f898151ad16c17134308');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBT4WF1YRY9KHE4BS7M0', 'fx-brand', 'fx-c1', 7, 'UNFREEZE', 30, 30, -30, 0, 480, 'h-1', '', 'fx-shop-1', '西湖店', '', 'fx-pos', 'h-1v', 'op1', '', '', 1, '', 1796646874946850, '2:f2fd115951ab92506fd564fc79f1392932c3e41c76b9f898151ad16c17134308', '2:7c4f9dfccc27236f5ae0dd0e1c165270032c0c1454c200a29da2d9f26d4bcbcb');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBV8P52WF2YP9XVX4CHX', 'fx-brand', 'fx-c2', 5, 'FREEZE', 10, -10, 10, 0, 380, 'h-2', '', 'fx-shop-1', '西湖店', '', 'fx-pos', 'h-2f', 'op1', '', '', 1, '', 1796646874983033, '2:a9002a18ac68040816f28bdbe09011ea82a668441d085f8fa92d867660153a08', '2:29d8491b7b296a435389d96200b7bcf8c9d9ccc27710320d958cf4aa3fbddf48');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBW2DACCVE3FDX79HR9J', 'fx-brand', 'fx-c2', 6, 'UNFREEZE', 10, 10, -10, 0, 390, 'h-2', '', '', '', '', '', '', '', '小李', '操作员释放冻结', 1, '', 1796646875010334, '2:29d8491b7b296a435389d96200b7bcf8c9d9ccc27710320d958cf4aa3fbddf48', '2:22554a21382a38bb6fa4f19735535a9c03df23b0bc0d8c52f537f2f0c9980c2c');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBX07SPWJP7FAGNW4PBW', 'fx-brand', 'fx-c2', 7, 'ADJUST', 25, 25, 0, 0, 415, '', '', '', '', '', '@admin', 'adj-1', '小李', '小李', '补偿', 1, '', 1796646875039774, '2:22554a21382a38bb6fa4f19735535a9c03df23b0bc0d8c52f537f2f0c9980c2c', '2:8d0392c0cb8e2e7b4e95ed8d2823f187f5680e1a1e3fcfc8410e0bca7cfb8747');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBY3SWTXJ5S5Y2SS6VJ8', 'fx-brand', 'fx-c2', 8, 'EXTRA_CHARGE', 100, 100, 0, 0, 515, 'g2-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'g2-fx-c2', 'op1', '小王', '', 1, '', 1796646875075179, '2:8d0392c0cb8e2e7b4e95ed8d2823f187f5680e1a1e3fcfc8410e0bca7cfb8747', '2:dd8c3a0ed3ac70a64236ae3f8b1c7138e35e6f465119c2320ab8d5c0eb08c7c9');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZBZ6J3GDZ2VZ1EGCYS94', 'fx-brand', 'fx-c2', 9, 'EXTRA_CONSUME', 400, -400, 0, 0, 115, 'x2-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'x2-fx-c2', 'op1', '小王', '', 1, '', 1796646875109736, '2:dd8c3a0ed3ac70a64236ae3f8b1c7138e35e6f465119c2320ab8d5c0eb08c7c9', '2:aebe4675c239d8ba1559bc137c958bcd8b8885922b4df5b8be309eb510323ad2');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZC08NV31VQ4GECM48C8Z', 'fx-brand', 'fx-c2', 10, 'EXTRA_CHARGE_REVERSE', 100, -100, 0, 0, 15, 'g2-fx-c2', 'cb-fx-c2', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'cb-fx-c2', 'op1', '小王', '', 1, '', 1796646875143146, '2:aebe4675c239d8ba1559bc137c958bcd8b8885922b4df5b8be309eb510323ad2', '2:05bdf6606b23b8ba55f98d447e16d7d55df05a0b3eba503a584d0ec310469de8');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZC19DS3T2C10D91VHBQS', 'fx-brand', 'fx-c2', 11, 'EXTRA_CHARGE', 200, 200, 0, 0, 215, 'g3-fx-c2', '', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'g3-fx-c2', 'op1', '小王', '', 1, '', 1796646875176773, '2:05bdf6606b23b8ba55f98d447e16d7d55df05a0b3eba503a584d0ec310469de8', '2:98cd90acfba4cea0a3ca53e186a70084418d886ce18769818514ed7db497990f');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZC8Z2HTZ10A1ZWY5MKS3', 'fx-brand', 'fx-c1', 8, 'EXPIRE', 480, -480, 0, 0, 0, 'g-fx-c1', '', '', '', '', '', '', '', '', '积分到期', 1, '', 1799526875423060, '2:7c4f9dfccc27236f5ae0dd0e1c165270032c0c1454c200a29da2d9f26d4bcbcb', '2:5646be6a9d90fb1cc5f2066206ad341a2c796565beaa2ed2a36f872a130c4014');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZC91X6T1CCGKT0YZTQ31', 'fx-brand', 'fx-c2', 12, 'EXPIRE', 15, -15, 0, 0, 200, '', '', '', '', '', '', '', '', '', '积分到期', 1, '', 1799526875424913, '2:98cd90acfba4cea0a3ca53e186a70084418d886ce18769818514ed7db497990f', '2:e9e9a644942eb4793402d9c82f4072956f2dd9951899a76c899c19d851c97e2d');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZC91X6T1CCGKT2VVPGMA', 'fx-brand', 'fx-c2', 13, 'EXPIRE', 200, -200, 0, 0, 0, 'g3-fx-c2', '', '', '', '', '', '', '', '', '积分到期', 1, '', 1799526875424913, '2:e9e9a644942eb4793402d9c82f4072956f2dd9951899a76c899c19d851c97e2d', '2:fb97e57ebc00000ed3bfa7dcd03da03d66eba88d23b404a54a5f8f5ac06900dc');
INSERT INTO jifen_fixture.flows VALUES ('01M987ZF0ZRX5H8DM8XTKTQR9N', 'fx-brand', 'fx-c2', 14, 'DEDUCT_FROM_CONSUME_REVERSE', 80, 80, 0, 0, 80, 'o-fx-c2', 'r2-fx-c2', 'fx-shop-1', '西湖店', 'KRY', 'fx-pos', 'r2-fx-c2', 'op1', '小王', '', 1, 'grace', 1799526878238751, '2:fb97e57ebc00000ed3bfa7dcd03da03d66eba88d23b404a54a5f8f5ac06900dc', '2:ce8bb3b4f31276d807671bd93e7668182266967459e7f289dec82d8404c06590');
INSERT INTO jifen_fixture.holds VALUES ('fx-brand', 'h-1', 'fx-c1', 50, 0, 20, 'VERIFIED', 1796646874910828, 1796648674910828, '01M987ZBS0APCAHK8FFQG06S4S', 2);
INSERT INTO jifen_fixture.holds VALUES ('fx-brand', 'h-2', 'fx-c2', 10, 0, 0, 'RELEASED', 1796646874983033, 1796648674983033, '01M987ZBV8P52WF2YP9XVX4CHX', 2);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'cc-1', 'customer_create', '92e7ead78dacea132bd96a29460360e04b43e79bb859ecd8ac7fc05c33285f9b', '', '01M987ZBEGFHHC20SCV6ESYMCF', 1796646874574496);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'g-fx-c1', 'extra_charge', '6f312cfda0c4400a833b6f5e01fbbf5a9fb1582273932a707597b4f84a43e458', '01M987ZBFWH2FJ4ZZMHAP9NV14', '01M987ZBFWH2FJ4ZZMHAP9NV14', 1796646874615392);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'p-fx-c1', 'consume', 'c155e0aa1ef767f01cf6e45f9ad93f75a8c8f8825d2565ce2f009e8e29d9a84c', '01M987ZBH19J0064BS8FTG1W5E', '01M987ZBH19J0064BS8FTG1W5E', 1796646874656412);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'r1-fx-c1', 'reverse', 'ad199da2111ba375cb550bd83899667c20782e4b9ab2b81a503b9b13e9c8d9bf', '01M987ZBJ87SM2QV83M14FA3BM', '01M987ZBJ87SM2QV83M14FA3BM', 1796646874693725);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'g-fx-c2', 'extra_charge', 'af38c5aceb8285209bad88280b679ed4a7dba3414b99183c0e269feb8fce3668', '01M987ZBKAFJPEXWY5R8W5RV7N', '01M987ZBKAFJPEXWY5R8W5RV7N', 1796646874729306);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'p-fx-c2', 'consume', '79cfe68052bec565c7da18f432f64a70b9cea4f9185635c14dc8149c6aa0705c', '01M987ZBMFN4D3QGHQX1X8ZP0F', '01M987ZBMFN4D3QGHQX1X8ZP0F', 1796646874765821);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'r1-fx-c2', 'reverse', '4755085dfa0049068afe9d177b5aa3e3ee48cb4ff93df894a09d10791491ebb7', '01M987ZBNHMH14GG6HYJMW48HP', '01M987ZBNHMH14GG6HYJMW48HP', 1796646874799851);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'r2-fx-c1', 'reverse', 'df71346f4b0f61bd1d99824ba191c32cd9bf29af4ca0c9b2e4d1aff42eadb618', '01M987ZBPNHPA77KER8KZRTA1H', '01M987ZBPNHPA77KER8KZRTA1H', 1796646874835938);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'x-fx-c2', 'extra_consume', '0bd7716cdb0bbe445d2a839714583df70881e8cbe41740545dc9565702360564', '01M987ZBQS5BGDP3F4QBEWRVS2', '01M987ZBQS5BGDP3F4QBEWRVS2', 1796646874872393);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'h-1f', 'operate', 'a09f2603d17126679cab983e1092ccfe24c5ce9592652f7b2a708fefb2eeaa15', '01M987ZBS0APCAHK8FFQG06S4S', 'true', 1796646874910828);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'h-1v', 'operate', '9825a0280ba60dfc7892a092d3fba7a3db1efef23793a64cd9c43c6ac00b778c', '01M987ZBT4WF1YRY9KHB8JEH9S', 'true', 1796646874946850);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'h-2f', 'operate', '4c6038da9f72fa5b2be5c38fe146cb1ccd9b4f789c7e7ff9801b5495360d4b18', '01M987ZBV8P52WF2YP9XVX4CHX', 'true', 1796646874983033);
INSERT INTO jifen_fixture.idempotency VALUES ('@admin', 'adj-1', 'admin_adjust', '151f068f63393b74998eac6c4e89dedefe36ba509329d949c5949952e7199b0d', '01M987ZBX07SPWJP7FAGNW4PBW', '01M987ZBX07SPWJP7FAGNW4PBW', 1796646875039774);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'g2-fx-c2', 'extra_charge', 'fd47f256ec0a86676a1f0135342b8b9dc605c0d0f453831a072173ad9895ce04', '01M987ZBY3SWTXJ5S5Y2SS6VJ8', '01M987ZBY3SWTXJ5S5Y2SS6VJ8', 1796646875075179);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'x2-fx-c2', 'extra_consume', '4836915b8c9fe03b13430827b634e2f24bb2522c01450f923d2aa87220f71979', '01M987ZBZ6J3GDZ2VZ1EGCYS94', '01M987ZBZ6J3GDZ2VZ1EGCYS94', 1796646875109736);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'cb-fx-c2', 'reverse', 'c6ed8d9f4450641b693255164afa36a343b63fe16da54311948f42d5ea450be8', '01M987ZC08NV31VQ4GECM48C8Z', '01M987ZC08NV31VQ4GECM48C8Z', 1796646875143146);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'g3-fx-c2', 'extra_charge', 'cdf3160386db2e7d5afea6b32d99e6769d2606c94e0d9539784f4a2d55f39242', '01M987ZC19DS3T2C10D91VHBQS', '01M987ZC19DS3T2C10D91VHBQS', 1796646875176773);
INSERT INTO jifen_fixture.idempotency VALUES ('fx-pos', 'r2-fx-c2', 'reverse', '4b8dbc247c2e0a9cd0cbd2f05a831961cc50148145b89e568897cc1107fbb409', '01M987ZF0ZRX5H8DM8XTKTQR9N', '01M987ZF0ZRX5H8DM8XTKTQR9N', 1799526878238751);
INSERT INTO jifen_fixture.lots VALUES ('01M987ZBY3SWTXJ5S5Y5RQY4KP', 'fx-brand', 'fx-c2', 100, 0, 1796646875075179, 1799251200000000, '01M987ZBY3SWTXJ5S5Y2SS6VJ8', 'g2-fx-c2', 3);
INSERT INTO jifen_fixture.lots VALUES ('01M987ZBFWH2FJ4ZZMHDK00F3D', 'fx-brand', 'fx-c1', 500, 0, 1796646874615392, 1799251200000000, '01M987ZBFWH2FJ4ZZMHAP9NV14', 'g-fx-c1', 1);
INSERT INTO jifen_fixture.lots VALUES ('01M987ZBX07SPWJP7FAK8QDM9R', 'fx-brand', 'fx-c2', 25, 0, 1796646875039774, 1799251200000000, '01M987ZBX07SPWJP7FAGNW4PBW', '', 2);
INSERT INTO jifen_fixture.lots VALUES ('01M987ZC19DS3T2C10DB75VB4A', 'fx-brand', 'fx-c2', 200, 0, 1796646875176773, 1799251200000000, '01M987ZC19DS3T2C10D91VHBQS', 'g3-fx-c2', 4);
INSERT INTO jifen_fixture.lots VALUES ('01M987ZBKAFJPEXWY5R9WHZ3YA', 'fx-brand', 'fx-c2', 500, 80, 1796646874729306, 1802188800000000, '01M987ZBKAFJPEXWY5R8W5RV7N', 'g-fx-c2', 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'g-fx-c1', 'fx-c1', 0, 0, 500, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'g-fx-c2', 'fx-c2', 0, 0, 500, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'o-fx-c1', 'fx-c1', 120, 120, 0, 0, 3);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'x-fx-c2', 'fx-c2', 30, 0, 0, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'h-1', 'fx-c1', 20, 0, 0, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'x2-fx-c2', 'fx-c2', 400, 0, 0, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'g2-fx-c2', 'fx-c2', 0, 0, 100, 100, 2);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'g3-fx-c2', 'fx-c2', 0, 0, 200, 0, 1);
INSERT INTO jifen_fixture.orders VALUES ('fx-brand', 'o-fx-c2', 'fx-c2', 120, 120, 0, 0, 3);
INSERT INTO jifen_fixture.reversals VALUES ('fx-brand', 'r1-fx-c1', 'o-fx-c1', 'fx-c1', 'DEDUCT_FROM_CONSUME_REVERSE', 40, 40, '01M987ZBJ87SM2QV83M14FA3BM', 1796646874693725);
INSERT INTO jifen_fixture.reversals VALUES ('fx-brand', 'r1-fx-c2', 'o-fx-c2', 'fx-c2', 'DEDUCT_FROM_CONSUME_REVERSE', 40, 40, '01M987ZBNHMH14GG6HYJMW48HP', 1796646874799851);
INSERT INTO jifen_fixture.reversals VALUES ('fx-brand', 'r2-fx-c1', 'o-fx-c1', 'fx-c1', 'DEDUCT_FROM_CONSUME_REVERSE', 0, 80, '01M987ZBPNHPA77KER8KZRTA1H', 1796646874835938);
INSERT INTO jifen_fixture.reversals VALUES ('fx-brand', 'cb-fx-c2', 'g2-fx-c2', 'fx-c2', 'EXTRA_CHARGE_REVERSE', 0, 100, '01M987ZC08NV31VQ4GECM48C8Z', 1796646875143146);
INSERT INTO jifen_fixture.reversals VALUES ('fx-brand', 'r2-fx-c2', 'o-fx-c2', 'fx-c2', 'DEDUCT_FROM_CONSUME_REVERSE', 0, 80, '01M987ZF0ZRX5H8DM8XTKTQR9N', 1799526878238751);
INSERT INTO jifen_fixture.rules VALUES ('fx-brand', 1, 'fx-brand-rule', '{"name": "默认积分规则", "clear": {"days": 30, "point_clear_rule_type": "DAYS_AFTER_EARN"}, "addition": [{"enable": true, "deleted": false, "level_id": "", "reward_point": 1, "consume_money": 1000}], "deduction": [{"enable": true, "deleted": false, "level_id": "", "max_point": 5000, "consume_money": 5000, "deducted_point": 100, "has_upper_limit": true}], "created_by": "", "updated_by": "", "with_coupon": true}', 1796646874322052, 1796646874322052);
INSERT INTO jifen_fixture.schema_migrations VALUES (1, '0001_init.sql', 1796646874243841);
INSERT INTO jifen_fixture.schema_migrations VALUES (2, '0002_account_counters.sql', 1796646874292198);
INSERT INTO jifen_fixture.schema_migrations VALUES (3, '0003_lots_account_seq_unique.sql', 1796646874312990);
INSERT INTO jifen_fixture.schema_migrations VALUES (4, '0004_drop_idempotency_created.sql', 1796646874315981);
INSERT INTO jifen_fixture.schema_migrations VALUES (5, '0005_console_sessions_ended.sql', 1796646874317979);
INSERT INTO jifen_fixture.shop_out_ids VALUES ('KRY', 'kry-fx-1', 'fx-shop-1');
INSERT INTO jifen_fixture.shops VALUES ('fx-shop-1', 'fx-brand', '西湖店');
INSERT INTO jifen_fixture.shops VALUES ('fx-shop-9', 'fx-brand-2', '别店');
ALTER TABLE ONLY jifen_fixture.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (brand_id, customer_id);
ALTER TABLE ONLY jifen_fixture.allocations
    ADD CONSTRAINT allocations_account_seq UNIQUE (brand_id, customer_id, seq);
ALTER TABLE ONLY jifen_fixture.apps
    ADD CONSTRAINT apps_pkey PRIMARY KEY (app_key);
ALTER TABLE ONLY jifen_fixture.brand_out_ids
    ADD CONSTRAINT brand_out_ids_pkey PRIMARY KEY (channel, out_id);
ALTER TABLE ONLY jifen_fixture.brands
    ADD CONSTRAINT brands_pkey PRIMARY KEY (brand_id);
ALTER TABLE ONLY jifen_fixture.console_sessions_ended
    ADD CONSTRAINT console_sessions_ended_pkey PRIMARY KEY (nonce);
ALTER TABLE ONLY jifen_fixture.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (customer_id);
ALTER TABLE ONLY jifen_fixture.flows
    ADD CONSTRAINT flows_account_seq UNIQUE (brand_id, customer_id, seq);
ALTER TABLE ONLY jifen_fixture.flows
    ADD CONSTRAINT flows_pkey PRIMARY KEY (flow_id);
ALTER TABLE ONLY jifen_fixture.holds
    ADD CONSTRAINT holds_pkey PRIMARY KEY (brand_id, outer_order_id);
ALTER TABLE ONLY jifen_fixture.idempotency
    ADD CONSTRAINT idempotency_pkey PRIMARY KEY (app_key, request_id);
ALTER TABLE ONLY jifen_fixture.lots
    ADD CONSTRAINT lots_pkey PRIMARY KEY (lot_id);
ALTER TABLE ONLY jifen_fixture.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (brand_id, out_biz_id, customer_id);
ALTER TABLE ONLY jifen_fixture.reversals
    ADD CONSTRAINT reversals_pkey PRIMARY KEY (brand_id, reverse_order_id);
ALTER TABLE ONLY jifen_fixture.rules
    ADD CONSTRAINT rules_pkey PRIMARY KEY (brand_id, version);
ALTER TABLE ONLY jifen_fixture.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);
ALTER TABLE ONLY jifen_fixture.shop_out_ids
    ADD CONSTRAINT shop_out_ids_pkey PRIMARY KEY (channel, out_id);
ALTER TABLE ONLY jifen_fixture.shops
    ADD CONSTRAINT shops_pkey PRIMARY KEY (shop_id);
CREATE INDEX allocations_order ON jifen_fixture.allocations USING btree (brand_id, customer_id, order_ref, seq);
CREATE INDEX brand_out_ids_brand ON jifen_fixture.brand_out_ids USING btree (brand_id);
CREATE INDEX customers_mobile ON jifen_fixture.customers USING btree (brand_id, mobile, created_at);
CREATE INDEX customers_outer ON jifen_fixture.customers USING btree (brand_id, outer_type, outer_id, created_at);
CREATE INDEX flows_brand_time ON jifen_fixture.flows USING btree (brand_id, created_at, seq);
CREATE INDEX flows_customer_time ON jifen_fixture.flows USING btree (brand_id, customer_id, created_at, seq);
CREATE INDEX flows_out_biz ON jifen_fixture.flows USING btree (brand_id, out_biz_id);
CREATE INDEX holds_account ON jifen_fixture.holds USING btree (brand_id, customer_id);
CREATE INDEX holds_due ON jifen_fixture.holds USING btree (status, expires_at);
CREATE UNIQUE INDEX lots_account_seq ON jifen_fixture.lots USING btree (brand_id, customer_id, seq);
CREATE INDEX lots_due ON jifen_fixture.lots USING btree (expires_at) WHERE ((remaining > 0) AND (expires_at > 0));
CREATE INDEX orders_account ON jifen_fixture.orders USING btree (brand_id, customer_id);
CREATE INDEX shop_out_ids_shop ON jifen_fixture.shop_out_ids USING btree (shop_id);
CREATE INDEX shops_brand ON jifen_fixture.shops USING btree (brand_id);
ALTER TABLE ONLY jifen_fixture.allocations
    ADD CONSTRAINT allocations_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES jifen_fixture.flows(flow_id);
ALTER TABLE ONLY jifen_fixture.allocations
    ADD CONSTRAINT allocations_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES jifen_fixture.lots(lot_id);
ALTER TABLE ONLY jifen_fixture.brand_out_ids
    ADD CONSTRAINT brand_out_ids_brand_id_fkey FOREIGN KEY (brand_id) REFERENCES jifen_fixture.brands(brand_id) ON DELETE CASCADE;
ALTER TABLE ONLY jifen_fixture.customers
    ADD CONSTRAINT customers_brand_id_fkey FOREIGN KEY (brand_id) REFERENCES jifen_fixture.brands(brand_id);
ALTER TABLE ONLY jifen_fixture.rules
    ADD CONSTRAINT rules_brand_id_fkey FOREIGN KEY (brand_id) REFERENCES jifen_fixture.brands(brand_id);
ALTER TABLE ONLY jifen_fixture.shop_out_ids
    ADD CONSTRAINT shop_out_ids_shop_id_fkey FOREIGN KEY (shop_id) REFERENCES jifen_fixture.shops(shop_id) ON DELETE CASCADE;
ALTER TABLE ONLY jifen_fixture.shops
    ADD CONSTRAINT shops_brand_id_fkey FOREIGN KEY (brand_id) REFERENCES jifen_fixture.brands(brand_id);
