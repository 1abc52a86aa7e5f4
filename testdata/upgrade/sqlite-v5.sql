PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT;
INSERT INTO schema_migrations VALUES(1,'0001_init.sql',1796646870322971);
INSERT INTO schema_migrations VALUES(2,'0002_account_counters.sql',1796646870323721);
INSERT INTO schema_migrations VALUES(3,'0003_lots_spend.sql',1796646870323795);
INSERT INTO schema_migrations VALUES(4,'0004_drop_idempotency_created.sql',1796646870323947);
INSERT INTO schema_migrations VALUES(5,'0005_console_sessions_ended.sql',1796646870324000);
CREATE TABLE apps (
    app_key    TEXT    NOT NULL PRIMARY KEY,
    secret     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    channels   TEXT    NOT NULL, -- JSON array
    brands     TEXT    NOT NULL, -- JSON array
    rate_limit REAL    NOT NULL CHECK (rate_limit >= 0)
) STRICT;
INSERT INTO apps VALUES('fx-pos','fx-secret-0123456789','fixture POS',1,'["KRY","CS"]','["fx-brand","fx-brand-2"]',0.0);
CREATE TABLE brands (
    brand_id  TEXT NOT NULL PRIMARY KEY,
    name      TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    settings  TEXT NOT NULL -- JSON object
) STRICT;
INSERT INTO brands VALUES('fx-brand','夹具餐饮','Asia/Shanghai','{"refund_of_expired":"grace","grace_days":30,"clawback_shortfall":"debt","hold_timeout":1800000000000}');
INSERT INTO brands VALUES('fx-brand-2','第二品牌','Asia/Shanghai','{"refund_of_expired":"grace","grace_days":30,"clawback_shortfall":"reject","hold_timeout":1800000000000}');
CREATE TABLE brand_out_ids (
    channel  TEXT NOT NULL,
    out_id   TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id) ON DELETE CASCADE,
    PRIMARY KEY (channel, out_id)
) STRICT;
INSERT INTO brand_out_ids VALUES('KRY','kry-fx','fx-brand');
CREATE TABLE shops (
    shop_id  TEXT NOT NULL PRIMARY KEY,
    brand_id TEXT NOT NULL REFERENCES brands (brand_id),
    name     TEXT NOT NULL
) STRICT;
INSERT INTO shops VALUES('fx-shop-1','fx-brand','西湖店');
INSERT INTO shops VALUES('fx-shop-9','fx-brand-2','别店');
CREATE TABLE shop_out_ids (
    channel TEXT NOT NULL,
    out_id  TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (shop_id) ON DELETE CASCADE,
    PRIMARY KEY (channel, out_id)
) STRICT;
INSERT INTO shop_out_ids VALUES('KRY','kry-fx-1','fx-shop-1');
CREATE TABLE customers (
    customer_id   TEXT    NOT NULL PRIMARY KEY,
    brand_id      TEXT    NOT NULL REFERENCES brands (brand_id),
    mobile        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    level_id      TEXT    NOT NULL,
    customer_type INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    outer_type    TEXT    NOT NULL,
    outer_id      TEXT    NOT NULL,
    gender        TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    birthday      TEXT    NOT NULL,
    address       TEXT    NOT NULL,
    remark        TEXT    NOT NULL,
    shop_id       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
INSERT INTO customers VALUES('fx-c1','fx-brand','13900000001','张三','L1',1,'','','','','','','','','',1796646870325942);
INSERT INTO customers VALUES('fx-c2','fx-brand','13900000002','李四','L1',1,'','','','','','','','','',1796646870325942);
INSERT INTO customers VALUES('fx-c9','fx-brand-2','13900000009','王九','',1,'','','','','','','','','',1796646870325942);
INSERT INTO customers VALUES('01M987Z7C562QS87NHK0J224GC','fx-brand','13900000077','新会员','',1,'KRY','KRY_MEMBER','m-77','','','','','','',1796646870405817);
CREATE TABLE rules (
    brand_id   TEXT    NOT NULL REFERENCES brands (brand_id),
    version    INTEGER NOT NULL,
    rule_id    TEXT    NOT NULL,
    body       TEXT    NOT NULL, -- JSON: name, clear, coupons, deduction, addition, authors
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (brand_id, version)
) STRICT;
INSERT INTO rules VALUES('fx-brand',1,'fx-brand-rule','{"name":"默认积分规则","clear":{"point_clear_rule_type":"DAYS_AFTER_EARN","days":30},"with_coupon":true,"deduction":[{"level_id":"","deducted_point":100,"consume_money":5000,"enable":true,"has_upper_limit":true,"max_point":5000,"deleted":false}],"addition":[{"level_id":"","consume_money":1000,"reward_point":1,"enable":true,"deleted":false}],"created_by":"","updated_by":""}',1796646870325942,1796646870325942);
CREATE TABLE accounts (
    brand_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    available     INTEGER NOT NULL CHECK (available >= 0),
    frozen        INTEGER NOT NULL CHECK (frozen >= 0),
    debt          INTEGER NOT NULL CHECK (debt >= 0),
    total_earned  INTEGER NOT NULL,
    total_used    INTEGER NOT NULL,
    total_expired INTEGER NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    last_hash     TEXT    NOT NULL,
    version       INTEGER NOT NULL, lot_seq INTEGER NOT NULL DEFAULT 0, alloc_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (brand_id, customer_id)
) STRICT;
INSERT INTO accounts VALUES('fx-brand','fx-c1',0,0,0,500,20,480,8,'2:f209e321fd8e7d6a73dd352f1a8c7cf01a592105a6cd7c17286752273d979631',7,1,8);
INSERT INTO accounts VALUES('fx-brand','fx-c2',80,0,0,725,430,215,14,'2:0bb584bc86bc8049ac7fd1ad6328787d61ee68e736f284c8407ddd6481933927',13,4,11);
CREATE TABLE lots (
    lot_id      TEXT    NOT NULL PRIMARY KEY,
    brand_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    granted     INTEGER NOT NULL,
    remaining   INTEGER NOT NULL,
    earned_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL, -- 0: never
    flow_id     TEXT    NOT NULL,
    out_biz_id  TEXT    NOT NULL,
    seq         INTEGER NOT NULL, -- numbered by the store, from 1 per account
    UNIQUE (brand_id, customer_id, seq),
    CHECK (0 <= remaining AND remaining <= granted)
) STRICT;
INSERT INTO lots VALUES('01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1',500,0,1796646870441688,1799251200000000,'01M987Z7DARV2SFMY1YASHH16D','g-fx-c1',1);
INSERT INTO lots VALUES('01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2',500,80,1796646870545345,1802188800000000,'01M987Z7GHPA5BM4PGQJZFCVDN','g-fx-c2',1);
INSERT INTO lots VALUES('01M987Z7SH899BCYZS8VG52SE4','fx-brand','fx-c2',25,0,1796646870833701,1799251200000000,'01M987Z7SH899BCYZS8S73HFFZ','',2);
INSERT INTO lots VALUES('01M987Z7TMT8MSE89C094XVH4Z','fx-brand','fx-c2',100,0,1796646870868227,1799251200000000,'01M987Z7TMT8MSE89C05JAQBV3','g2-fx-c2',3);
INSERT INTO lots VALUES('01M987Z7XN3B3GHTE24VBBVYVM','fx-brand','fx-c2',200,0,1796646870965149,1799251200000000,'01M987Z7XN3B3GHTE24RTYAPW0','g3-fx-c2',4);
CREATE TABLE flows (
    flow_id          TEXT    NOT NULL PRIMARY KEY,
    brand_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    type             TEXT    NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    delta_available  INTEGER NOT NULL,
    delta_frozen     INTEGER NOT NULL,
    delta_debt       INTEGER NOT NULL,
    remain_point     INTEGER NOT NULL,
    out_biz_id       TEXT    NOT NULL,
    reverse_order_id TEXT    NOT NULL,
    shop_id          TEXT    NOT NULL,
    shop_name        TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    app_key          TEXT    NOT NULL,
    request_id       TEXT    NOT NULL,
    operator_id      TEXT    NOT NULL,
    operator_name    TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    rule_version     INTEGER NOT NULL,
    policy           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL,
    UNIQUE (brand_id, customer_id, seq)
) STRICT;
INSERT INTO flows VALUES('01M987Z7DARV2SFMY1YASHH16D','fx-brand','fx-c1',1,'EXTRA_CHARGE',500,500,0,0,500,'g-fx-c1','','fx-shop-1','西湖店','KRY','fx-pos','g-fx-c1','op1','小王','',1,'',1796646870441688,'','2:07556bbdaf42f5b1ed174af243ea73d1375dd12127c9453a85a29c37d0f56427');
INSERT INTO flows VALUES('01M987Z7EDRB17VJF4B0VPJ5AN','fx-brand','fx-c1',2,'DEDUCT_FROM_CONSUME',120,-120,0,0,380,'o-fx-c1','','fx-shop-1','西湖店','KRY','fx-pos','p-fx-c1','op1','小王','',1,'',1796646870477081,'2:07556bbdaf42f5b1ed174af243ea73d1375dd12127c9453a85a29c37d0f56427','2:0a58ec2958c1717cc5fcfa16765d12d2d743d63aa34b40e57fb3fd0b8ea6de28');
INSERT INTO flows VALUES('01M987Z7FF792KPJK1A86C7PM1','fx-brand','fx-c1',3,'DEDUCT_FROM_CONSUME_REVERSE',40,40,0,0,420,'o-fx-c1','r1-fx-c1','fx-shop-1','西湖店','KRY','fx-pos','r1-fx-c1','op1','小王','',1,'',1796646870511645,'2:0a58ec2958c1717cc5fcfa16765d12d2d743d63aa34b40e57fb3fd0b8ea6de28','2:9a88b6d8bbd9461c9bc4086a623cb20164dc126c664f36378853a83671e98cae');
INSERT INTO flows VALUES('01M987Z7GHPA5BM4PGQJZFCVDN','fx-brand','fx-c2',1,'EXTRA_CHARGE',500,500,0,0,500,'g-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','g-fx-c2','op1','小王','',1,'',1796646870545345,'','2:3094d1f63587edd09b8c6913759015d88679b85814779a91cabc715f4699b6c4');
INSERT INTO flows VALUES('01M987Z7HKH4FHX13H646NB4R3','fx-brand','fx-c2',2,'DEDUCT_FROM_CONSUME',120,-120,0,0,380,'o-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','p-fx-c2','op1','小王','',1,'',1796646870579688,'2:3094d1f63587edd09b8c6913759015d88679b85814779a91cabc715f4699b6c4','2:e1eed015b14eecf3a4ab9d89d5f7fe273f063e80ffe8d152283162675e2e71e3');
INSERT INTO flows VALUES('01M987Z7JPBH1YNR0E6QQ4F0XD','fx-brand','fx-c2',3,'DEDUCT_FROM_CONSUME_REVERSE',40,40,0,0,420,'o-fx-c2','r1-fx-c2','fx-shop-1','西湖店','KRY','fx-pos','r1-fx-c2','op1','小王','',1,'',1796646870614803,'2:e1eed015b14eecf3a4ab9d89d5f7fe273f063e80ffe8d152283162675e2e71e3','2:840441b6dad30054b20f22225df23743b4295c8cfa39c5e4617ea502b6a4f6e9');
INSERT INTO flows VALUES('01M987Z7KQPSH6B4893EQ3TGA8','fx-brand','fx-c1',4,'DEDUCT_FROM_CONSUME_REVERSE',80,80,0,0,500,'o-fx-c1','r2-fx-c1','fx-shop-1','西湖店','KRY','fx-pos','r2-fx-c1','op1','小王','',1,'',1796646870646812,'2:9a88b6d8bbd9461c9bc4086a623cb20164dc126c664f36378853a83671e98cae','2:a8bb1e28220a24ac6b3f97713bb3ec4be231c41e4b331f4da42f0f3b2ca9cd26');
INSERT INTO flows VALUES('01M987Z7MQ55G4MKQZZQQ3SSTZ','fx-brand','fx-c2',4,'EXTRA_CONSUME',30,-30,0,0,390,'x-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','x-fx-c2','op1','小王','',1,'',1796646870679249,'2:840441b6dad30054b20f22225df23743b4295c8cfa39c5e4617ea502b6a4f6e9','2:119d9465b6eb9c6bd55edfd8efc748f5e1391a9841f655b8631705ac4fd9bb88');
INSERT INTO flows VALUES('01M987Z7NT2Y51DX6MZN012TK8','fx-brand','fx-c1',5,'FREEZE',50,-50,50,0,450,'h-1','','fx-shop-1','西湖店','','fx-pos','h-1f','op1','','',1,'',1796646870714060,'2:a8bb1e28220a24ac6b3f97713bb3ec4be231c41e4b331f4da42f0f3b2ca9cd26','2:88c52484e31a753fc8d83b495bbd9dd2e7bdfbedd6a6d00b552e6a0d7bc291f1');
INSERT INTO flows VALUES('01M987Z7PTH1PJSTSNTFN2S77R','fx-brand','fx-c1',6,'VERIFY',20,0,-20,0,450,'h-1','','fx-shop-1','西湖店','','fx-pos','h-1v','op1','','',1,'',1796646870746795,'2:88c52484e31a753fc8d83b495bbd9dd2e7bdfbedd6a6d00b552e6a0d7bc291f1','2:e589362040bba6641a9db5aa36785742715683161097a3cccabc03416e69718e');
INSERT INTO flows VALUES('01M987Z7PTH1PJSTSNTJXEG26B','fx-brand','fx-c1',7,'UNFREEZE',30,30,-30,0,480,'h-1','','fx-shop-1','西湖店','','fx-pos','h-1v','op1','','',1,'',1796646870746795,'2:e589362040bba6641a9db5aa36785742715683161097a3cccabc03416e69718e','2:a3cd8f26aabfe03bfc688a026880f78cf19bc577cb1991ba7f905d94381c04cd');
INSERT INTO flows VALUES('01M987Z7QWNCBR3YPQRJDVV36Q','fx-brand','fx-c2',5,'FREEZE',10,-10,10,0,380,'h-2','','fx-shop-1','西湖店','','fx-pos','h-2f','op1','','',1,'',1796646870780378,'2:119d9465b6eb9c6bd55edfd8efc748f5e1391a9841f655b8631705ac4fd9bb88','2:e8e8703f4a1f2ff07261ca9491c5b55784595c3cfaaa32d0eaa3d9d884db5abb');
INSERT INTO flows VALUES('01M987Z7RRE6QBRNJ85B8ZYYM5','fx-brand','fx-c2',6,'UNFREEZE',10,10,-10,0,390,'h-2','','','','','','','','小李','操作员释放冻结',1,'',1796646870808275,'2:e8e8703f4a1f2ff07261ca9491c5b55784595c3cfaaa32d0eaa3d9d884db5abb','2:bfb536b5b67d871576d93682ccd797729c14483cc8cb54a6ee290f6ee27d7690');
INSERT INTO flows VALUES('01M987Z7SH899BCYZS8S73HFFZ','fx-brand','fx-c2',7,'ADJUST',25,25,0,0,415,'','','','','','@admin','adj-1','小李','小李','补偿',1,'',1796646870833701,'2:bfb536b5b67d871576d93682ccd797729c14483cc8cb54a6ee290f6ee27d7690','2:7c59db28ca9a17f89d70ed35bde5aaf31b2064e53960838a1fbecfbd27eee944');
INSERT INTO flows VALUES('01M987Z7TMT8MSE89C05JAQBV3','fx-brand','fx-c2',8,'EXTRA_CHARGE',100,100,0,0,515,'g2-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','g2-fx-c2','op1','小王','',1,'',1796646870868227,'2:7c59db28ca9a17f89d70ed35bde5aaf31b2064e53960838a1fbecfbd27eee944','2:a0733ca257662840cc8b714c7c9cd0a4822f5f2f6ca65271cbf174dc8d91e2e8');
INSERT INTO flows VALUES('01M987Z7VMQZCB3E0XS0P3PWZB','fx-brand','fx-c2',9,'EXTRA_CONSUME',400,-400,0,0,115,'x2-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','x2-fx-c2','op1','小王','',1,'',1796646870900331,'2:a0733ca257662840cc8b714c7c9cd0a4822f5f2f6ca65271cbf174dc8d91e2e8','2:d43b29c3517f6a043202328f282c5bd15f3ad7626042e1a5141862f143a59041');
INSERT INTO flows VALUES('01M987Z7WMCGQSS4219Z48WSK5','fx-brand','fx-c2',10,'EXTRA_CHARGE_REVERSE',100,-100,0,0,15,'g2-fx-c2','cb-fx-c2','fx-shop-1','西湖店','KRY','fx-pos','cb-fx-c2','op1','小王','',1,'',1796646870932173,'2:d43b29c3517f6a043202328f282c5bd15f3ad7626042e1a5141862f143a59041','2:23ae1de20e48b1a60e105ebf34ca8a23c019acf7c2d9ae6af537d2582f853139');
INSERT INTO flows VALUES('01M987Z7XN3B3GHTE24RTYAPW0','fx-brand','fx-c2',11,'EXTRA_CHARGE',200,200,0,0,215,'g3-fx-c2','','fx-shop-1','西湖店','KRY','fx-pos','g3-fx-c2','op1','小王','',1,'',1796646870965149,'2:23ae1de20e48b1a60e105ebf34ca8a23c019acf7c2d9ae6af537d2582f853139','2:c613ef6ce3d5c36f9049aeb39262ca8bb0bfb9bfb3e4c2679e49ff19abf9b222');
INSERT INTO flows VALUES('01M987Z8AE6KZTQ1KQ9MRAR45C','fx-brand','fx-c1',8,'EXPIRE',480,-480,0,0,0,'g-fx-c1','','','','','','','','','积分到期',1,'',1799526871374545,'2:a3cd8f26aabfe03bfc688a026880f78cf19bc577cb1991ba7f905d94381c04cd','2:f209e321fd8e7d6a73dd352f1a8c7cf01a592105a6cd7c17286752273d979631');
INSERT INTO flows VALUES('01M987Z8AFTJ3TE8DYQFKBRJK6','fx-brand','fx-c2',12,'EXPIRE',15,-15,0,0,200,'','','','','','','','','','积分到期',1,'',1799526871375881,'2:c613ef6ce3d5c36f9049aeb39262ca8bb0bfb9bfb3e4c2679e49ff19abf9b222','2:53f561369104304abecdbdafcf0bc9fbc30ce55f7cd3d92cb9d062a663dc226d');
INSERT INTO flows VALUES('01M987Z8AFTJ3TE8DYQGYFSHP3','fx-brand','fx-c2',13,'EXPIRE',200,-200,0,0,0,'g3-fx-c2','','','','','','','','','积分到期',1,'',1799526871375881,'2:53f561369104304abecdbdafcf0bc9fbc30ce55f7cd3d92cb9d062a663dc226d','2:d1be6bd7e54eea29d0c00235dded77ab4b11aaabd483c65d6a9843878a851190');
INSERT INTO flows VALUES('01M987ZAXD4AHRHD5ANXPARQ25','fx-brand','fx-c2',14,'DEDUCT_FROM_CONSUME_REVERSE',80,80,0,0,80,'o-fx-c2','r2-fx-c2','fx-shop-1','西湖店','KRY','fx-pos','r2-fx-c2','op1','小王','',1,'grace',1799526874029557,'2:d1be6bd7e54eea29d0c00235dded77ab4b11aaabd483c65d6a9843878a851190','2:0bb584bc86bc8049ac7fd1ad6328787d61ee68e736f284c8407ddd6481933927');
CREATE TABLE allocations (
    flow_id     TEXT    NOT NULL REFERENCES flows (flow_id),
    lot_id      TEXT    NOT NULL REFERENCES lots (lot_id),
    brand_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    order_ref   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    seq         INTEGER NOT NULL, -- numbered by the store, from 1 per account
    UNIQUE (brand_id, customer_id, seq)
) STRICT;
INSERT INTO allocations VALUES('01M987Z7EDRB17VJF4B0VPJ5AN','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','o-fx-c1','spend',120,1);
INSERT INTO allocations VALUES('01M987Z7FF792KPJK1A86C7PM1','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','o-fx-c1','spend',-40,2);
INSERT INTO allocations VALUES('01M987Z7HKH4FHX13H646NB4R3','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','o-fx-c2','spend',120,1);
INSERT INTO allocations VALUES('01M987Z7JPBH1YNR0E6QQ4F0XD','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','o-fx-c2','spend',-40,2);
INSERT INTO allocations VALUES('01M987Z7KQPSH6B4893EQ3TGA8','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','o-fx-c1','spend',-80,3);
INSERT INTO allocations VALUES('01M987Z7MQ55G4MKQZZQQ3SSTZ','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','x-fx-c2','spend',30,3);
INSERT INTO allocations VALUES('01M987Z7NT2Y51DX6MZN012TK8','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','h-1','hold',50,4);
INSERT INTO allocations VALUES('01M987Z7PTH1PJSTSNTFN2S77R','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','h-1','hold',-20,5);
INSERT INTO allocations VALUES('01M987Z7PTH1PJSTSNTFN2S77R','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','h-1','spend',20,6);
INSERT INTO allocations VALUES('01M987Z7PTH1PJSTSNTJXEG26B','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','h-1','hold',-30,7);
INSERT INTO allocations VALUES('01M987Z7QWNCBR3YPQRJDVV36Q','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','h-2','hold',10,4);
INSERT INTO allocations VALUES('01M987Z7RRE6QBRNJ85B8ZYYM5','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','h-2','hold',-10,5);
INSERT INTO allocations VALUES('01M987Z7VMQZCB3E0XS0P3PWZB','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','x2-fx-c2','spend',390,6);
INSERT INTO allocations VALUES('01M987Z7VMQZCB3E0XS0P3PWZB','01M987Z7SH899BCYZS8VG52SE4','fx-brand','fx-c2','x2-fx-c2','spend',10,7);
INSERT INTO allocations VALUES('01M987Z7WMCGQSS4219Z48WSK5','01M987Z7TMT8MSE89C094XVH4Z','fx-brand','fx-c2','g2-fx-c2','clawback',100,8);
INSERT INTO allocations VALUES('01M987Z8AE6KZTQ1KQ9MRAR45C','01M987Z7DARV2SFMY1YEGAGQDJ','fx-brand','fx-c1','','expire',480,8);
INSERT INTO allocations VALUES('01M987Z8AFTJ3TE8DYQFKBRJK6','01M987Z7SH899BCYZS8VG52SE4','fx-brand','fx-c2','','expire',15,9);
INSERT INTO allocations VALUES('01M987Z8AFTJ3TE8DYQGYFSHP3','01M987Z7XN3B3GHTE24VBBVYVM','fx-brand','fx-c2','','expire',200,10);
INSERT INTO allocations VALUES('01M987ZAXD4AHRHD5ANXPARQ25','01M987Z7GHPA5BM4PGQMZNN1BM','fx-brand','fx-c2','o-fx-c2','spend',-80,11);
CREATE TABLE orders (
    brand_id    TEXT    NOT NULL,
    out_biz_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    spent       INTEGER NOT NULL CHECK (spent >= 0),
    reversed    INTEGER NOT NULL CHECK (reversed >= 0),
    granted     INTEGER NOT NULL CHECK (granted >= 0),
    clawed_back INTEGER NOT NULL CHECK (clawed_back >= 0),
    version     INTEGER NOT NULL,
    PRIMARY KEY (brand_id, out_biz_id, customer_id),
    CHECK (reversed <= spent),
    CHECK (clawed_back <= granted)
) STRICT;
INSERT INTO orders VALUES('fx-brand','g-fx-c1','fx-c1',0,0,500,0,1);
INSERT INTO orders VALUES('fx-brand','o-fx-c1','fx-c1',120,120,0,0,3);
INSERT INTO orders VALUES('fx-brand','g-fx-c2','fx-c2',0,0,500,0,1);
INSERT INTO orders VALUES('fx-brand','o-fx-c2','fx-c2',120,120,0,0,3);
INSERT INTO orders VALUES('fx-brand','x-fx-c2','fx-c2',30,0,0,0,1);
INSERT INTO orders VALUES('fx-brand','h-1','fx-c1',20,0,0,0,1);
INSERT INTO orders VALUES('fx-brand','g2-fx-c2','fx-c2',0,0,100,100,2);
INSERT INTO orders VALUES('fx-brand','x2-fx-c2','fx-c2',400,0,0,0,1);
INSERT INTO orders VALUES('fx-brand','g3-fx-c2','fx-c2',0,0,200,0,1);
CREATE TABLE reversals (
    brand_id         TEXT    NOT NULL,
    reverse_order_id TEXT    NOT NULL,
    out_biz_id       TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    requested        INTEGER NOT NULL CHECK (requested >= 0),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    flow_id          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (brand_id, reverse_order_id)
) STRICT;
INSERT INTO reversals VALUES('fx-brand','r1-fx-c1','o-fx-c1','fx-c1','DEDUCT_FROM_CONSUME_REVERSE',40,40,'01M987Z7FF792KPJK1A86C7PM1',1796646870511645);
INSERT INTO reversals VALUES('fx-brand','r1-fx-c2','o-fx-c2','fx-c2','DEDUCT_FROM_CONSUME_REVERSE',40,40,'01M987Z7JPBH1YNR0E6QQ4F0XD',1796646870614803);
INSERT INTO reversals VALUES('fx-brand','r2-fx-c1','o-fx-c1','fx-c1','DEDUCT_FROM_CONSUME_REVERSE',0,80,'01M987Z7KQPSH6B4893EQ3TGA8',1796646870646812);
INSERT INTO reversals VALUES('fx-brand','cb-fx-c2','g2-fx-c2','fx-c2','EXTRA_CHARGE_REVERSE',0,100,'01M987Z7WMCGQSS4219Z48WSK5',1796646870932173);
INSERT INTO reversals VALUES('fx-brand','r2-fx-c2','o-fx-c2','fx-c2','DEDUCT_FROM_CONSUME_REVERSE',0,80,'01M987ZAXD4AHRHD5ANXPARQ25',1799526874029557);
CREATE TABLE holds (
    brand_id       TEXT    NOT NULL,
    outer_order_id TEXT    NOT NULL,
    customer_id    TEXT    NOT NULL,
    amount         INTEGER NOT NULL CHECK (amount >= 0),
    remaining      INTEGER NOT NULL CHECK (remaining >= 0),
    verified       INTEGER NOT NULL CHECK (verified >= 0),
    status         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    flow_id        TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    PRIMARY KEY (brand_id, outer_order_id)
) STRICT;
INSERT INTO holds VALUES('fx-brand','h-1','fx-c1',50,0,20,'VERIFIED',1796646870714060,1796648670714060,'01M987Z7NT2Y51DX6MZN012TK8',2);
INSERT INTO holds VALUES('fx-brand','h-2','fx-c2',10,0,0,'RELEASED',1796646870780378,1796648670780378,'01M987Z7QWNCBR3YPQRJDVV36Q',2);
CREATE TABLE idempotency (
    app_key     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    flow_id     TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_key, request_id)
) STRICT;
INSERT INTO idempotency VALUES('fx-pos','cc-1','customer_create','92e7ead78dacea132bd96a29460360e04b43e79bb859ecd8ac7fc05c33285f9b','','01M987Z7C562QS87NHK0J224GC',1796646870405817);
INSERT INTO idempotency VALUES('fx-pos','g-fx-c1','extra_charge','6f312cfda0c4400a833b6f5e01fbbf5a9fb1582273932a707597b4f84a43e458','01M987Z7DARV2SFMY1YASHH16D','01M987Z7DARV2SFMY1YASHH16D',1796646870441688);
INSERT INTO idempotency VALUES('fx-pos','p-fx-c1','consume','c155e0aa1ef767f01cf6e45f9ad93f75a8c8f8825d2565ce2f009e8e29d9a84c','01M987Z7EDRB17VJF4B0VPJ5AN','01M987Z7EDRB17VJF4B0VPJ5AN',1796646870477081);
INSERT INTO idempotency VALUES('fx-pos','r1-fx-c1','reverse','ad199da2111ba375cb550bd83899667c20782e4b9ab2b81a503b9b13e9c8d9bf','01M987Z7FF792KPJK1A86C7PM1','01M987Z7FF792KPJK1A86C7PM1',1796646870511645);
INSERT INTO idempotency VALUES('fx-pos','g-fx-c2','extra_charge','af38c5aceb8285209bad88280b679ed4a7dba3414b99183c0e269feb8fce3668','01M987Z7GHPA5BM4PGQJZFCVDN','01M987Z7GHPA5BM4PGQJZFCVDN',1796646870545345);
INSERT INTO idempotency VALUES('fx-pos','p-fx-c2','consume','79cfe68052bec565c7da18f432f64a70b9cea4f9185635c14dc8149c6aa0705c','01M987Z7HKH4FHX13H646NB4R3','01M987Z7HKH4FHX13H646NB4R3',1796646870579688);
INSERT INTO idempotency VALUES('fx-pos','r1-fx-c2','reverse','4755085dfa0049068afe9d177b5aa3e3ee48cb4ff93df894a09d10791491ebb7','01M987Z7JPBH1YNR0E6QQ4F0XD','01M987Z7JPBH1YNR0E6QQ4F0XD',1796646870614803);
INSERT INTO idempotency VALUES('fx-pos','r2-fx-c1','reverse','df71346f4b0f61bd1d99824ba191c32cd9bf29af4ca0c9b2e4d1aff42eadb618','01M987Z7KQPSH6B4893EQ3TGA8','01M987Z7KQPSH6B4893EQ3TGA8',1796646870646812);
INSERT INTO idempotency VALUES('fx-pos','x-fx-c2','extra_consume','0bd7716cdb0bbe445d2a839714583df70881e8cbe41740545dc9565702360564','01M987Z7MQ55G4MKQZZQQ3SSTZ','01M987Z7MQ55G4MKQZZQQ3SSTZ',1796646870679249);
INSERT INTO idempotency VALUES('fx-pos','h-1f','operate','a09f2603d17126679cab983e1092ccfe24c5ce9592652f7b2a708fefb2eeaa15','01M987Z7NT2Y51DX6MZN012TK8','true',1796646870714060);
INSERT INTO idempotency VALUES('fx-pos','h-1v','operate','9825a0280ba60dfc7892a092d3fba7a3db1efef23793a64cd9c43c6ac00b778c','01M987Z7PTH1PJSTSNTFN2S77R','true',1796646870746795);
INSERT INTO idempotency VALUES('fx-pos','h-2f','operate','4c6038da9f72fa5b2be5c38fe146cb1ccd9b4f789c7e7ff9801b5495360d4b18','01M987Z7QWNCBR3YPQRJDVV36Q','true',1796646870780378);
INSERT INTO idempotency VALUES('@admin','adj-1','admin_adjust','151f068f63393b74998eac6c4e89dedefe36ba509329d949c5949952e7199b0d','01M987Z7SH899BCYZS8S73HFFZ','01M987Z7SH899BCYZS8S73HFFZ',1796646870833701);
INSERT INTO idempotency VALUES('fx-pos','g2-fx-c2','extra_charge','fd47f256ec0a86676a1f0135342b8b9dc605c0d0f453831a072173ad9895ce04','01M987Z7TMT8MSE89C05JAQBV3','01M987Z7TMT8MSE89C05JAQBV3',1796646870868227);
INSERT INTO idempotency VALUES('fx-pos','x2-fx-c2','extra_consume','4836915b8c9fe03b13430827b634e2f24bb2522c01450f923d2aa87220f71979','01M987Z7VMQZCB3E0XS0P3PWZB','01M987Z7VMQZCB3E0XS0P3PWZB',1796646870900331);
INSERT INTO idempotency VALUES('fx-pos','cb-fx-c2','reverse','c6ed8d9f4450641b693255164afa36a343b63fe16da54311948f42d5ea450be8','01M987Z7WMCGQSS4219Z48WSK5','01M987Z7WMCGQSS4219Z48WSK5',1796646870932173);
INSERT INTO idempotency VALUES('fx-pos','g3-fx-c2','extra_charge','cdf3160386db2e7d5afea6b32d99e6769d2606c94e0d9539784f4a2d55f39242','01M987Z7XN3B3GHTE24RTYAPW0','01M987Z7XN3B3GHTE24RTYAPW0',1796646870965149);
INSERT INTO idempotency VALUES('fx-pos','r2-fx-c2','reverse','4b8dbc247c2e0a9cd0cbd2f05a831961cc50148145b89e568897cc1107fbb409','01M987ZAXD4AHRHD5ANXPARQ25','01M987ZAXD4AHRHD5ANXPARQ25',1799526874029557);
CREATE TABLE console_sessions_ended (
    nonce      TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX brand_out_ids_brand ON brand_out_ids (brand_id);
CREATE INDEX shops_brand ON shops (brand_id);
CREATE INDEX shop_out_ids_shop ON shop_out_ids (shop_id);
CREATE INDEX customers_mobile ON customers (brand_id, mobile, created_at);
CREATE INDEX customers_outer ON customers (brand_id, outer_type, outer_id, created_at);
CREATE INDEX lots_due ON lots (expires_at) WHERE remaining > 0 AND expires_at > 0;
CREATE INDEX flows_customer_time ON flows (brand_id, customer_id, created_at, seq);
CREATE INDEX flows_brand_time ON flows (brand_id, created_at, seq);
CREATE INDEX flows_out_biz ON flows (brand_id, out_biz_id);
CREATE INDEX allocations_order ON allocations (brand_id, customer_id, order_ref, seq);
CREATE INDEX orders_account ON orders (brand_id, customer_id, out_biz_id);
CREATE INDEX holds_due ON holds (status, expires_at);
CREATE INDEX holds_account ON holds (brand_id, customer_id, outer_order_id);
CREATE INDEX lots_spend ON lots (brand_id, customer_id, expires_at = 0, expires_at, seq) WHERE remaining > 0;
COMMIT;
