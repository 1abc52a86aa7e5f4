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
	activitySeries         = 4
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
	X    float64
	Text string
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
	f := chartFrame{W: chartW, H: chartH, Left: padL, Top: padT, Right: padL + plotW, Bot: padT + plotH, Legend: legend}
	for i := 0; i <= gridLines; i++ {
		v := top * int64(i) / gridLines
		f.Grid = append(f.Grid, gridLine{Y: padT + plotH - plotH*float64(i)/gridLines, Label: compact(v)})
	}
	n := len(t.Days)
	step := (n + maxXLabels - 1) / maxXLabels
	for i := 0; i < n; i += max(step, 1) {
		f.Labels = append(f.Labels, xLabel{X: padL + plotW*(float64(i)+0.5)/float64(n), Text: t.Days[i].Day[5:]})
	}
	return f
}

// activityChart draws, for each day, bars of points issued, spent,
// reversed and expired.
func activityChart(t backoffice.Totals) barChart {
	series := []struct {
		class, name string
		v           func(backoffice.DayTotal) int64
	}{
		{"issued", "发放", func(d backoffice.DayTotal) int64 { return d.Issued }},
		{"spent", "消费", func(d backoffice.DayTotal) int64 { return d.Spent }},
		{"reversed", "退回", func(d backoffice.DayTotal) int64 { return d.Reversed }},
		{"expired", "过期", func(d backoffice.DayTotal) int64 { return d.Expired }},
	}
	var top int64
	for _, d := range t.Days {
		for _, s := range series {
			top = max(top, s.v(d))
		}
	}
	var legend []legendItem
	for i, s := range series {
		legend = append(legend, legendItem{X: padL + float64(i)*80, Class: s.class, Text: s.name})
	}
	c := barChart{chartFrame: frame(t, niceCeil(top), legend)}
	c.Empty = top == 0
	n := float64(len(t.Days))
	if n == 0 {
		return c
	}
	day := plotW / n
	w := day * barFill / activitySeries
	scale := plotH / float64(niceCeil(top))
	for i, d := range t.Days {
		for j, s := range series {
			v := s.v(d)
			if v == 0 {
				continue
			}
			h := max(float64(v)*scale, 1)
			c.Bars = append(c.Bars, bar{X: padL + day*float64(i) + day*(1-barFill)/2 + w*float64(j), Y: padT + plotH - h, W: w, H: h,
				Class: s.class, Title: fmt.Sprintf("%s %s %d", d.Day, s.name, v)})
		}
	}
	return c
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
