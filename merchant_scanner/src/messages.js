// Plain Chinese for every code the scanner can meet, local or from the server. The app switches
// on `code` (and `reason` for pass_invalid), never on the server's message text.

const CODES = {
  pass_expired: { title: '信用码已过期', hint: '请让顾客刷新信用码后重新出示' },
  pass_not_yet_valid: { title: '信用码时间异常', hint: '顾客手机或本机时间不准，请顾客刷新信用码；仍不行请校准本机时间' },
  pass_already_used: { title: '该信用码已使用过', hint: '同一个码只能核销一次，请让顾客刷新信用码' },
  tier_not_eligible: { title: '信用等级不符合本优惠', hint: '该顾客的信用等级不在本优惠的适用范围内' },
  holder_blacklisted: { title: '暂不能享受守信优惠', hint: '该主体当前不符合守信激励条件，请按原价办理' },
  pass_unknown_issuer: { title: '不认识的签发机构', hint: '此码不是本市或互认城市签发的信用码' },
  pass_unknown_key: { title: '公钥列表需要更新', hint: '本机没有这个签发密钥，请联网更新公钥列表后重扫' },
  pass_key_revoked: { title: '签发密钥已作废', hint: '此码不能使用，请让顾客刷新信用码' },
  perk_unavailable: { title: '本优惠当前不可用', hint: '优惠已停用、不在有效期或今天不适用（如节假日）' },
  perk_outside_hours: { title: '现在不在优惠时段内', hint: '本优惠只在规定时段可用（见优惠名称下方），请在时段内再来' },
  limit_reached: { title: '已达到使用次数上限', hint: '该顾客今天在本店已享受过此优惠' },
  tier_not_accepted: { title: '外地信用等级不适用', hint: '本市不认可签发城市的这一信用等级，请按原价办理' },
  issuer_unreachable: { title: '暂时无法核对使用次数', hint: '联系不上签发城市，本次不能享受此优惠，请稍后再试' },
  offline_too_late: { title: '离线记录上传太晚', hint: '超过了离线补传时限，服务器未记录' },
  offline_time_implausible: { title: '离线记录时间不符', hint: '扫码时间与本机的联网记录不符（那时本机在线或尚未启用），服务器未记录；如有疑问请联系信用办' },
  void_window_closed: { title: '已超过撤销时限', hint: '核销超过 15 分钟后只能由信用办撤销' },
  unauthorized: { title: '设备授权失效', hint: '请在“设置”里重新绑定本设备' },
  forbidden: { title: '没有权限', hint: '本设备或账号不能进行此操作' },
  validation_error: { title: '提交的数据有误', hint: '请检查金额后重试' },
  // The scanner always sends small JSON; these mean an outdated or damaged copy of the page.
  unsupported_media_type: { title: '扫码页面版本异常', hint: '请关闭后重新打开扫码页面再试' },
  payload_too_large: { title: '提交的内容过大', hint: '请关闭后重新打开扫码页面再试' },
  rate_limited: { title: '操作太频繁', hint: '请稍后再试' },
  key_list_stale: { title: '公钥列表已过期', hint: '超过 24 小时没有更新，请联网后再扫码' },
  key_list_missing: { title: '尚未下载公钥列表', hint: '请联网后再扫码' },
  enrolment_code_invalid: { title: '绑定码无效或已使用', hint: '请在商户后台重新生成绑定码' },
  enrolment_code_expired: { title: '绑定码已过期', hint: '请在商户后台重新生成绑定码' },
  short_code_invalid: { title: '数字码无效或已使用', hint: '请核对 12 位数字，或让顾客重新获取数字码' },
  short_code_unavailable: { title: '数字码暂不可用', hint: '请让顾客出示二维码扫码' },
  short_code_offline: { title: '数字码需要联网核验', hint: '当前离线，请让顾客出示二维码扫码' },
  holder_not_eligible: { title: '暂不能享受守信优惠', hint: '该主体当前信用等级不在信易+范围内，请按原价办理' },
  amount_required: { title: '请填写消费金额', hint: '折扣类优惠需要先输入金额' },
  client_id_reused: { title: '记录编号冲突', hint: '请重新扫码核销' },
  already_voided: { title: '该核销已撤销', hint: '' },
  session_revoked: { title: '设备授权已注销', hint: '请在“设置”里重新绑定本设备' },
  not_found: { title: '找不到该记录', hint: '' },
  storage_unavailable: { title: '本机无法保存核销记录', hint: '请关闭无痕/隐私模式，或换用系统浏览器后重试' },
  network: { title: '网络不可用', hint: '联网后自动同步' },
  token_expired: { title: '设备授权已过期', hint: '请在“设置”里重新绑定本设备' },
  bad_request: { title: '请求格式有误', hint: '请刷新页面后重试；仍不行请联系信用办' },
  internal_error: { title: '服务器出错了', hint: '请稍后重试；未上传的核销会留在本机，自动补传' },
  service_unavailable: { title: '服务器繁忙', hint: '请稍后重试；未上传的核销会留在本机，自动补传' },
};

const INVALID_REASONS = {
  prefix: '这不是信用码（请扫描顾客“信用码”页面上的二维码）',
  encoding: '二维码内容损坏，请让顾客刷新后重扫',
  version: '信用码版本不受支持，请让顾客更新应用',
  length: '信用码不完整，请重扫',
  signature: '签名校验失败：此码被篡改或伪造',
  claims: '信用码内容无效',
  window: '信用码有效期异常，请让顾客刷新信用码',
};

/** {title, hint} for a code (and reason); unknown codes still get a readable text. */
export function explain(code, reason, serverMessage = '') {
  if (code === 'pass_invalid') {
    return { title: '信用码无效', hint: INVALID_REASONS[reason] || serverMessage || '请让顾客刷新信用码后重扫' };
  }
  return CODES[code] || { title: serverMessage || '操作未成功', hint: code ? `错误代码：${code}` : '' };
}

export const KIND_LABELS = {
  discount: '折扣', green_channel: '绿色通道', deposit_waived: '免押金', extra_quota: '额外额度', free_entry: '免费入场',
};
