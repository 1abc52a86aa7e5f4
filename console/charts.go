package console

import (
	"fmt"
	"math"
	"strings"

	"jifen/backoffice"
)

// The dashboard's charts are drawn by the server: coordinates computed
// here, SVG written by the template. No script, no library.

const (
	chartW, chartH         = 760.0, 260.0
	padL, padR, padT, padB = 64.0, 12.0, 16.0, 36.0
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	maxXLabels             = 10
	gridLines              = 5
	barFill                = 0.8 // of a day's width, the rest is the gap between days
)

type charts struct {
	Activity  barChart
	Liability lineChart
}

type chartFrame struct {
	W, H       float64
	Left, Top  float64
	Right, Bot float64 // the plot's right and bottom edges
	Grid       []gridLine
	Labels     []xLabel
	Legend     []legendItem
	Empty      bool
}

type gridLine struct {
	Y     float64
	Label string
}

type xLabel struct {
	X     float64
	Text  string
	Today bool
}

// nearToday reports whether day i is within step days of today's label,
// whose place it leaves free.
func nearToday(days []backoffice.DayTotal, i int, today string, step int) bool {
	for j := max(i-step+1, 0); j < min(i+step, len(days)); j++ {
		if j != i && days[j].Day == today {
			return true
		}
	}
	return false
}

type legendItem struct {
	X     float64
	Class string
	Text  string
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
	Value      string // written on the bar
}

type barChart struct {
	chartFrame
	Bars []bar
}

type dot struct {
	X, Y  float64
	Title string
}

type lineChart struct {
	chartFrame
	Line string // polyline points
	Area string // path
	Dots []dot
}

func buildCharts(t backoffice.Totals) charts {
	return charts{Activity: activityChart(t), Liability: liabilityChart(t)}
}

// frame lays out the axes for n days and values up to top.
func frame(t backoffice.Totals, top int64, legend []legendItem) chartFrame {
	return frameW(t, top, legend, chartW)
}

// frameW is frame for a chart width wide; today's day (in the brand's
// time zone) is labelled 今天, whatever labels are skipped.
func frameW(t backoffice.Totals, top int64, legend []legendItem, width float64) chartFrame {
	pw := width - padL - padR
	f := chartFrame{W: width, H: chartH, Left: padL, Top: padT, Right: padL + pw, Bot: padT + plotH, Legend: legend}
	for i := 0; i <= gridLines; i++ {
		v := top * int64(i) / gridLines
		f.Grid = append(f.Grid, gridLine{Y: padT + plotH - plotH*float64(i)/gridLines, Label: compact(v)})
	}
	n := len(t.Days)
	labels := max(maxXLabels, int(pw/70))
	step := max((n+labels-1)/labels, 1)
	today := ""
	if !t.Now.IsZero() {
		today = t.Now.In(t.Brand.Location()).Format("2006-01-02")
	}
	for i := 0; i < n; i++ {
		x := padL + pw*(float64(i)+0.5)/float64(n)
		if t.Days[i].Day == today {
			f.Labels = append(f.Labels, xLabel{X: x, Text: "今天", Today: true})
		} else if i%step == 0 && (today == "" || !nearToday(t.Days, i, today, step)) {
			f.Labels = append(f.Labels, xLabel{X: x, Text: t.Days[i].Day[5:]})
		}
	}
	return f
}

// barMin is the narrowest a bar is drawn, so that its value fits above
// it (written upward); a range of many days makes the chart wider, and
// the page scrolls it inside its card.
const barMin = 13.0

// activitySeries are the movements the activity chart draws, each day:
// every kind of flow that moves points.
var activitySeries = []struct {
	class, name string
	v           func(backoffice.DayTotal) int64
}{
	{"issued", "发放", func(d backoffice.DayTotal) int64 { return d.Issued }},
	{"spent", "消费", func(d backoffice.DayTotal) int64 { return d.Spent }},
	{"reversed", "退回", func(d backoffice.DayTotal) int64 { return d.Reversed }},
	{"clawed", "收回", func(d backoffice.DayTotal) int64 { return d.ClawedBack }},
	{"expired", "过期", func(d backoffice.DayTotal) int64 { return d.Expired }},
	{"adjusted", "调整", func(d backoffice.DayTotal) int64 { return d.Adjusted }},
	{"repaid", "还欠分", func(d backoffice.DayTotal) int64 { return d.DebtRepaid }},
}

// activityChart draws, for each day, a bar per kind of movement with its
// value written on it; adjustments are drawn by size and written with
// their sign. Kinds with nothing in the range are left out (not in the
// legend either). Today's day is labelled so.
func activityChart(t backoffice.Totals) barChart {
	var top int64
	var shown []int
	for i, s := range activitySeries {
		any := false
		for _, d := range t.Days {
			v := abs(s.v(d))
			top = max(top, v)
			any = any || v != 0
		}
		if any {
			shown = append(shown, i)
		}
	}
	var legend []legendItem
	for i, k := range shown {
		s := activitySeries[k]
		legend = append(legend, legendItem{X: padL + float64(i)*80, Class: s.class, Text: s.name})
	}
	n := float64(len(t.Days))
	width := chartW
	if k := float64(max(len(shown), 1)); n*k*barMin/barFill > plotW {
		width = padL + padR + n*k*barMin/barFill
	}
	c := barChart{chartFrame: frameW(t, niceCeil(top), legend, width)}
	c.Empty = top == 0
	if n == 0 || len(shown) == 0 {
		return c
	}
	pw := c.Right - c.Left
	day := pw / n
	w := day * barFill / float64(len(shown))
	scale := plotH / float64(niceCeil(top))
	for i, d := range t.Days {
		for j, k := range shown {
			s := activitySeries[k]
			v := s.v(d)
			if v == 0 {
				continue
			}
			h := max(float64(abs(v))*scale, 1)
			label := compact(abs(v))
			if s.class == "adjusted" && v < 0 {
				label = "-" + label
			}
			c.Bars = append(c.Bars, bar{X: padL + day*float64(i) + day*(1-barFill)/2 + w*float64(j), Y: padT + plotH - h, W: w, H: h,
				Class: s.class, Title: fmt.Sprintf("%s %s %d", d.Day, s.name, v), Value: label})
		}
	}
	return c
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// liabilityChart draws the points outstanding at the end of each day.
func liabilityChart(t backoffice.Totals) lineChart {
	var top int64
	for _, d := range t.Days {
		top = max(top, d.Liability)
	}
	c := lineChart{chartFrame: frame(t, niceCeil(top), []legendItem{{X: padL, Class: "liability", Text: "待兑付积分 (日终)"}})}
	n := float64(len(t.Days))
	if n == 0 {
		c.Empty = true
		return c
	}
	scale := plotH / float64(niceCeil(top))
	var pts []string
	for i, d := range t.Days {
		x, y := padL+plotW*(float64(i)+0.5)/n, padT+plotH-float64(d.Liability)*scale
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		title := fmt.Sprintf("%s 待兑付 %d 积分", d.Day, d.Liability)
		if t.Valued {
			title += " ≈ " + fmtLiability(d.LiabilityFen, d.LiabilityFenCapped)
		}
		c.Dots = append(c.Dots, dot{X: x, Y: y, Title: title})
	}
	c.Line = strings.Join(pts, " ")
	first, last := c.Dots[0], c.Dots[len(c.Dots)-1]
	c.Area = fmt.Sprintf("M%.1f,%.1f L%s L%.1f,%.1f Z", first.X, padT+plotH, strings.Join(pts, " L"), last.X, padT+plotH)
	c.Empty = top == 0
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, at least
// gridLines (5), so that the grid's steps are whole numbers.
func niceCeil(v int64) int64 {
	if v <= gridLines {
		return gridLines
	}
	mag := int64(1)
	for mag <= v/10 {
		mag *= 10
	}
	for _, m := range []int64{1, 2, 5} {
		if m*mag >= v {
			return m * mag
		}
	}
	if mag > math.MaxInt64/10 {
		return math.MaxInt64 // 10^19 does not fit; the axis ends at the largest total there can be
	}
	return 10 * mag
}

// compact writes a count the Chinese way: 1.2万, 3亿.
func compact(v int64) string {
	switch {
	case v >= 100_000_000:
		return trimZero(fmt.Sprintf("%.1f", float64(v)/1e8)) + "亿"
	case v >= 10_000:
		return trimZero(fmt.Sprintf("%.1f", float64(v)/1e4)) + "万"
	}
	return fmt.Sprint(v)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// fmtLiability writes a liability in yuan, or says it is beyond what the
// totals can count (backoffice.DayTotal.LiabilityFenCapped) rather than show
// the saturated number as if it were the amount.
func fmtLiability(fen int64, capped bool) string {
	if capped {
		return "超出可计范围 (逾 " + fmtYuan(fen) + ")"
	}
	return fmtYuan(fen)
}
