// Drives a running jifen with the unmodified npm TOP client, as a POS
// developer would: only REST_URL points at jifen. Environment: JIFEN_URL,
// JIFEN_APP_KEY, JIFEN_SECRET. Prints one JSON line per step; exits 1 on
// the first answer that is not what the SDK should get.
const TopClient = require('node-taobao-topclient').default;

const client = new TopClient({
  appkey: process.env.JIFEN_APP_KEY,
  appsecret: process.env.JIFEN_SECRET,
  REST_URL: process.env.JIFEN_URL,
});

const base = { biz_channel: 'KRY', out_brand_id: 'kry-demo', out_shop_id: 'kry-shop-1', customer_id: 'demo-c2' };
const run = Date.now().toString(36);
let step = 0;

function must(cond, what, got) {
  if (!cond) {
    console.error(JSON.stringify({ step, failed: what, got }));
    process.exit(1);
  }
}

// execute() resolves with the content of the <method>_response wrapper,
// which it finds by name: a missing or misnamed wrapper gives undefined.
async function call(method, params) {
  step++;
  const body = await client.execute(method, params);
  console.log(JSON.stringify({ step, method, body }));
  must(body && body.result && body.request_id, 'the _response wrapper with result and request_id', body);
  return body.result;
}

(async () => {
  const order = `node-order-${run}`;
  const before = await call('alibaba.alsc.crm.customer.get',
    { param_customer_id_query_open_req: { out_brand_id: 'kry-demo', customer_id: 'demo-c2', options: ['POINT'] } });
  must(before.biz_success === true, 'customer.get succeeds', before);
  const start = before.result.point_account.available_point;

  let r = await call('alibaba.alsc.crm.point.extracharge',
    { param_extra_charge_point_open_req: { ...base, change_point: 300, out_biz_id: `node-charge-${run}`, operator_id: 'op1', request_id: `node-c-${run}` } });
  must(r.biz_success === true && r.result_code === '200' && typeof r.result === 'string', 'charge', r);

  r = await call('alibaba.alsc.crm.point.consumepoint',
    { param_consume_point_open_req: { ...base, change_point: 200, out_biz_id: order, operator_id: 'op1', operator_name: '小王', request_id: `node-p-${run}` } });
  must(r.biz_success === true, 'consume', r);

  const reverse = (id, extra) => call('alibaba.alsc.crm.point.reversepoint',
    { param_reverse_consume_point_open_req: { ...base, biz_type: 'DEDUCT_FROM_CONSUME_REVERSE', out_biz_id: order, reverse_order_id: `${order}-${id}`, operator_id: 'op1', operator_name: '小王', request_id: `node-r${id}-${run}`, ...extra } });
  const r1 = await reverse('1', { change_point: 50 });
  must(r1.biz_success === true && typeof r1.result === 'string' && r1.result_view === '', 'partial reversal 1', r1);
  const r2 = await reverse('2', { change_point: 30 });
  must(r2.biz_success === true && r2.result !== r1.result, 'partial reversal 2', r2);
  const r3 = await reverse('3', {});
  must(r3.biz_success === true, 'final reversal without change_point', r3);
  const r4 = await reverse('4', { change_point: 1 });
  must(r4.biz_success === false && r4.result_code === 'ALREADY_FULLY_REVERSED', 'nothing left to reverse', r4);

  const flows = await call('alibaba.alsc.crm.point.querypointflow',
    { param_page_query_point_flow_open_req: { out_brand_id: 'kry-demo', biz_channel: 'KRY', customer_id: 'demo-c2', out_biz_id: order, page_size: 10 } });
  const list = flows.result_list.point_flow_open_info;
  must(flows.total_size === 4 && list.length === 4 && list[0].biz_type === 'DEDUCT_FROM_CONSUME_REVERSE' && list[0].change_point === 120, 'flows newest first', flows);

  const after = await call('alibaba.alsc.crm.customer.get',
    { param_customer_id_query_open_req: { out_brand_id: 'kry-demo', customer_id: 'demo-c2', options: ['POINT'] } });
  must(after.result.point_account.available_point === start + 300, 'balance after full refund', after);

  step++;
  try {
    await client.execute('alibaba.alsc.crm.point.consumepoint', { param_consume_point_open_req: { ...base, change_point: 0 } });
    must(false, 'bad input rejected', null);
  } catch (e) {
    must(e.name === 'TOPClientError' && e.code === 50 && e.sub_code === 'isv.invalid-parameter', 'invalid parameter error', e.data);
    console.log(JSON.stringify({ step, error: e.message }));
  }
  console.log('node SDK end-to-end: ok');
})().catch((e) => { console.error('failed:', e && (e.stack || e.message || e)); process.exit(1); });
