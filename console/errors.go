package console

import (
	"html/template"
	"regexp"
	"strconv"
	"strings"

	"jifen/admin"
)

// Errors as an operator reads them: plain Chinese, never a field's wire
// name or the ledger's English text. The API's code (admin.ProblemOf)
// travels with the page in the alert's data-code, for whoever supports
// the operator; the field named marks its input (aria-invalid).

// codeText is the Chinese of codes whose problem has no Chinese view.
var codeText = map[string]string{
	"REQUEST_TIMEOUT":   "表单没有及时送达, 请重新提交",
	"UNAVAILABLE":       "服务繁忙或暂时不可用, 请稍后重试",
	"INTERNAL":          "系统内部错误, 请稍后重试或联系技术支持",
	"NOT_FOUND":         "找不到要操作的记录",
	"PERMISSION_DENIED": "没有权限执行此操作",
	"FORBIDDEN":         "你没有权限执行此操作",
}

// fieldLabels names in Chinese the fields an operator's input may be
// refused for, by the last part of the field's wire name.
var fieldLabels = map[string]string{
	"operator": "操作员", "request_id": "请求号", "customer_id": "顾客", "points": "积分", "reason": "原因",
	"q": "查找内容", "brand_id": "品牌", "shop_id": "门店", "out_biz_id": "订单号", "type": "类型", "channel": "渠道",
	"start": "开始时间", "end": "截止时间", "from": "开始日期", "to": "截止日期", "page_no": "页码", "page_size": "每页条数",
	"body": "表单", "customer_type": "顾客类型",
	// Tenant records.
	"time_zone": "时区", "refund_of_expired": "退回已过期积分", "grace_days": "宽限天数", "clawback_shortfall": "收回不足时",
	"hold_timeout": "冻结超时", "expiry_reminders": "到期提醒", "approval_above": "审批阈值", "out_ids": "外部编号", "app_key": "应用 Key",
	"secret": "密钥", "channels": "可用渠道", "brands": "可用品牌", "rate_limit": "限流",
	"point_clear_rule_type": "过期方式", "days": "过期天数/年数", "rule_id": "规则编号",
	"level_id": "等级", "deducted_point": "积分数", "consume_money": "抵扣金额", "max_point": "单次上限",
	"reward_point": "获得积分", "enable": "启用",
	// Operators.
	"role": "角色", "limit": "每次积分上限", "old_password": "原密码", "new_password": "新密码", "confirm_password": "确认新密码",
}

func init() {
	for _, f := range customerFields {
		fieldLabels[f.Name] = f.Label
	}
}

// indexRE is a list index in a field path: member_point_deduction_rules[2].
var indexRE = regexp.MustCompile(`^(\w+)\[(\d+)\]$`)

// fieldText is a field's wire path in Chinese: its last name's label,
// after the row of a rule it is in (the form's rows, from 1). A name with
// no label is not shown.
func fieldText(path string) string {
	if path == "" {
		return ""
	}
	parts := strings.Split(path, ".")
	var out []string
	for _, p := range parts {
		if m := indexRE.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[2])
			switch m[1] {
			case "member_point_deduction_rules":
				out = append(out, "抵现规则第 "+strconv.Itoa(n+1)+" 行")
			case "member_point_addition_rules":
				out = append(out, "积分获得规则第 "+strconv.Itoa(n+1)+" 行")
			case "expiry_reminders":
				out = append(out, "到期提醒第 "+strconv.Itoa(n+1)+" 项")
			}
		}
	}
	last := parts[len(parts)-1]
	if m := indexRE.FindStringSubmatch(last); m != nil {
		last = m[1]
	}
	if l, ok := fieldLabels[last]; ok && (len(out) == 0 || !strings.HasSuffix(out[len(out)-1], "项")) {
		out = append(out, l)
	} else if strings.HasPrefix(last, "out_ids") || strings.Contains(path, ".out_ids.") {
		out = append(out, "外部编号")
	}
	return strings.Join(out, " · ")
}

// formField is the name of the form input a field path is about: its
// last name, with the row for a rule's rows (ded_points_2).
func formField(path string) string {
	parts := strings.Split(path, ".")
	last := parts[len(parts)-1]
	if len(parts) >= 2 {
		if m := indexRE.FindStringSubmatch(parts[len(parts)-2]); m != nil {
			prefix := map[string]string{"member_point_deduction_rules": "ded_", "member_point_addition_rules": "add_"}[m[1]]
			if prefix != "" {
				return prefix + last + "_" + m[2]
			}
		}
	}
	if len(parts) >= 2 && parts[len(parts)-2] == "out_ids" {
		return "out_id_" + last
	}
	if m := indexRE.FindStringSubmatch(last); m != nil {
		return m[1]
	}
	return last
}

// wireWords are wire names that may appear inside a refusal's text, with
// what the operator reads instead.
var wireWords = func() *strings.Replacer {
	pairs := []string{"jifen apply", "租户文件", "refund_of_expired: forfeit", "退回已过期积分选“作废”"}
	for _, w := range []string{"consume_money", "reward_point", "deducted_point", "refund_of_expired", "clawback_shortfall",
		"grace_days", "out_biz_id", "customer_id", "app_key", "brand_id", "shop_id", "max_point", "level_id"} {
		pairs = append(pairs, w, fieldLabels[w])
	}
	pairs = append(pairs, "grace", "宽限", "forfeit", "作废", "reissue", "重新发放", "reject", "拒绝", "debt", "记为欠分",
		"NEVER", "永不过期", "DAYS_AFTER_EARN", "获得后若干天", "YEAR_END", "年底")
	return strings.NewReplacer(pairs...)
}()

// problemText is an error as the console shows it: the ledger's Chinese
// view of a business outcome, else the refusal with its field named in
// Chinese; an internal error says so with the request id to quote.
func problemText(p admin.Problem) string {
	if p.Internal {
		msg := codeText[p.Code]
		if msg == "" {
			msg = codeText["INTERNAL"]
		}
		if _, id, ok := strings.Cut(p.Message, "request_id "); ok {
			msg += " (请求号 " + id + ")"
		}
		return msg
	}
	if p.View != "" {
		return p.View
	}
	if t, ok := codeText[p.Code]; ok {
		return t
	}
	msg := wireWords.Replace(p.Message)
	if f := fieldText(p.Field); f != "" {
		msg = f + ": " + msg
	}
	return msg
}

// badAttr marks an input as the one an error named.
func badAttr(bad, name string) template.HTMLAttr {
	if bad != "" && bad == name {
		return ` class="bad" aria-invalid="true"`
	}
	return ""
}
