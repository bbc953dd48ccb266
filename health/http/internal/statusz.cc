#include "health/http/internal/statusz.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

constexpr absl::string_view kStyle = R"css(
:root{--ok:#1a7f37;--warn:#b26a00;--bad:#c62828;--unk:#6b7280;--bg:#f7f7f8;
--fg:#1f2328;--mute:#57606a;--line:#d0d7de;font:14px/1.4 system-ui,sans-serif}
body{margin:0;background:var(--bg);color:var(--fg)}
main{max-width:1440px;margin:0 auto;padding:12px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:18px 0 6px}
.banner{border-radius:8px;padding:12px 16px;color:#fff;display:flex;
flex-wrap:wrap;gap:8px 24px;align-items:baseline}
.banner.healthy{background:var(--ok)}.banner.degraded{background:var(--warn)}
.banner.unhealthy{background:var(--bad)}.banner.unknown{background:var(--unk)}
.banner .id{opacity:.9}.groups{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.chip{border-radius:12px;padding:2px 10px;border:1px solid var(--line);
background:#fff}.st{font-weight:600;text-transform:uppercase;font-size:12px}
.st.healthy{color:var(--ok)}.st.degraded{color:var(--warn)}
.st.unhealthy{color:var(--bad)}.st.unknown{color:var(--unk)}
.notice{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;
padding:8px 12px;margin:8px 0}
.wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);
border-radius:6px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);
vertical-align:top;white-space:nowrap}td.msg{white-space:normal;
min-width:160px}th[data-key]{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \25B2"}
th[aria-sort=descending]::after{content:" \25BC"}
tr.unhealthy td:first-child{border-left:4px solid var(--bad)}
tr.degraded td:first-child{border-left:4px solid var(--warn)}
tr.unknown td:first-child{border-left:4px solid var(--unk)}
tr.healthy td:first-child{border-left:4px solid var(--ok)}
.mute{color:var(--mute)}svg.spark{display:block}
ol.timeline{list-style:none;margin:0;padding:0;background:#fff;
border:1px solid var(--line);border-radius:6px}
ol.timeline li{padding:6px 10px;border-bottom:1px solid var(--line)}
footer{color:var(--mute);margin:16px 0;font-size:12px}
h1,.banner,.chip,ol.timeline li{overflow-wrap:anywhere}
@media (max-width:640px){main{padding:6px}.banner{padding:10px}
h1{font-size:18px}
.wrap{overflow:visible;background:none;border:0}
.wrap table,.wrap tbody,.wrap tr,.wrap td{display:block}
.wrap thead{position:absolute;width:1px;height:1px;overflow:hidden;
clip:rect(0 0 0 0)}
.wrap tr{background:#fff;border:1px solid var(--line);border-radius:6px;
margin:0 0 8px;padding:4px 0;border-left-width:4px;display:grid;
grid-template-columns:minmax(0,1fr) minmax(0,1fr)}
.wrap td.msg,.wrap td.trend{grid-column:1/-1}
.wrap tr.unhealthy{border-left-color:var(--bad)}
.wrap tr.degraded{border-left-color:var(--warn)}
.wrap tr.unknown{border-left-color:var(--unk)}
.wrap tr.healthy{border-left-color:var(--ok)}
.wrap tr td:first-child{border-left:0}
.wrap td{border:0;padding:2px 10px;white-space:normal;
overflow-wrap:anywhere;min-width:0}
.wrap td[data-label]::before{content:attr(data-label) ": ";
color:var(--mute)}
.wrap td.trend:empty{display:none}
svg.spark{width:100%;height:auto}}
)css";

constexpr absl::string_view kScript = R"js(
(function(){
var errors=0,root=document.documentElement,sortIdx=-1,sortAsc=true;
root.setAttribute('data-js-errors','0');
function note(m){errors++;root.setAttribute('data-js-errors',String(errors));
var e=document.getElementById('js-errors');
if(e){e.hidden=false;e.textContent='page script errors: '+errors+': '+m;}}
window.addEventListener('error',function(e){note(e.message);});
window.addEventListener('unhandledrejection',function(e){note(String(e.reason));});
function key(td){var v=td.getAttribute('data-v');
return v!==null&&v!==''&&!isNaN(v)?Number(v):td.textContent;}
function sort(t,i,asc){var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
rows.sort(function(x,y){var a=key(x.cells[i]),c=key(y.cells[i]);
var r=a<c?-1:a>c?1:0;return asc?r:-r;});
rows.forEach(function(r){b.appendChild(r);});
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,j){
if(j===i)th.setAttribute('aria-sort',asc?'ascending':'descending');
else th.removeAttribute('aria-sort');});}
function bind(){var t=document.getElementById('checks');if(!t)return;
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
th.addEventListener('click',function(){sortAsc=sortIdx===i?!sortAsc:true;
sortIdx=i;sort(t,i,sortAsc);});});if(sortIdx>=0)sort(t,sortIdx,sortAsc);}
// Layout self-check, for tests and for anyone reading the DOM: rows that
// stick out of the viewport, cells whose text is cut, the smallest font.
function measure(){var w=root.clientWidth,out=0,clip=0,font=99;
Array.prototype.forEach.call(document.querySelectorAll('tr[data-check]'),
function(r){var b=r.getBoundingClientRect();if(b.left<-1||b.right>w+1)out++;
Array.prototype.forEach.call(r.cells,function(c){
if(c.scrollWidth>c.clientWidth+1)clip++;
font=Math.min(font,parseFloat(getComputedStyle(c).fontSize));});});
root.setAttribute('data-layout','viewport='+w+' document='+root.scrollWidth+
' rows-outside='+out+' cells-clipped='+clip+' min-font='+font);}
function live(m){var e=document.getElementById('live');if(e)e.textContent=m;}
var main=document.querySelector('main'),busy=false;
function refresh(){if(busy)return;busy=true;
fetch(main.getAttribute('data-self'),{cache:'no-store'}).then(function(r){
return r.text();}).then(function(h){busy=false;
var m=new DOMParser().parseFromString(h,'text/html').querySelector('main');
if(!m)return;main.replaceWith(m);main=m;bind();measure();
live('live: updated '+new Date().toLocaleTimeString());}).catch(function(){
busy=false;live('live: cannot reach the service (showing the last copy)');});}
bind();measure();window.addEventListener('resize',measure);
var sec=Number(main.getAttribute('data-refresh'));
if(location.protocol==='file:'||!(sec>0)){live('live updates off');return;}
var ev=main.getAttribute('data-events');
if(ev&&window.EventSource){var es=new EventSource(ev);
es.onmessage=refresh;es.onerror=function(){es.close();
setInterval(refresh,sec*1000);};}else{setInterval(refresh,sec*1000);}
live('live: every '+sec+' s');
})();
)js";

std::string Escape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Name(Status s) { return std::string(StatusName(s)); }

std::string UtcTime(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", t, absl::UTCTimeZone());
}

// "3m12s", rounded to what a person reads.
std::string Short(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d < absl::Seconds(1)) {
    return absl::FormatDuration(absl::Trunc(d, absl::Microseconds(100)));
  }
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

std::string FormatValue(double v, absl::string_view unit) {
  if (unit == "bytes") {
    return absl::StrFormat("%.1f MiB", v / (1024.0 * 1024.0));
  }
  if (unit == "ratio") return absl::StrFormat("%.1f%%", v * 100);
  if (unit == "percent") return absl::StrFormat("%.1f%%", v);
  return absl::StrFormat("%g %s", v, unit);
}

// Numeric sort key of a status: worst first when ascending.
int Rank(Status s) { return 3 - Severity(s); }

// The sparkline of one series, with its warn and critical lines.
std::string Sparkline(const SampleSeries& s) {
  constexpr double kW = 160, kH = 36, kPad = 2;
  const Sample& last = s.samples.back();
  double lo = last.value, hi = last.value;
  for (const Sample& x : s.samples) {
    lo = std::min(lo, x.value);
    hi = std::max(hi, x.value);
  }
  for (const std::optional<double>& t :
       {last.warn_threshold, last.critical_threshold}) {
    if (t) {
      lo = std::min(lo, *t);
      hi = std::max(hi, *t);
    }
  }
  if (hi - lo < 1e-12) hi = lo + 1;
  const absl::Time t0 = s.samples.front().time;
  double span = absl::ToDoubleSeconds(last.time - t0);
  if (span <= 0) span = 1;
  auto x = [&](absl::Time t) {
    return kPad + (kW - 2 * kPad) * absl::ToDoubleSeconds(t - t0) / span;
  };
  auto y = [&](double v) {
    return kPad + (kH - 2 * kPad) * (1 - (v - lo) / (hi - lo));
  };
  std::vector<std::string> points;
  for (const Sample& p : s.samples) {
    points.push_back(absl::StrFormat("%.1f,%.1f", x(p.time), y(p.value)));
  }
  std::string svg = absl::StrFormat(
      "<svg class=\"spark\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
      "role=\"img\" data-samples=\"%d\" data-last=\"%g\"><title>%s: %s, %d "
      "samples</title>",
      kW, kH, kW, kH, s.samples.size(), last.value, Escape(s.check),
      Escape(FormatValue(last.value, s.unit)), s.samples.size());
  auto hline = [&](std::optional<double> v, const char* cls,
                   const char* color) {
    if (!v) return;
    absl::StrAppendFormat(
        &svg,
        "<line class=\"%s\" x1=\"0\" x2=\"%g\" y1=\"%.1f\" "
        "y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>",
        cls, kW, y(*v), y(*v), color);
  };
  hline(last.warn_threshold, "warn", "#b26a00");
  hline(last.critical_threshold, "critical", "#c62828");
  absl::StrAppend(&svg,
                  "<polyline fill=\"none\" stroke=\"#0969da\" "
                  "stroke-width=\"1.5\" points=\"",
                  absl::StrJoin(points, " "), "\"/>");
  absl::StrAppendFormat(&svg,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                        "fill=\"#0969da\"/></svg>",
                        x(last.time), y(last.value));
  absl::StrAppend(&svg, "<div class=\"mute\">",
                  Escape(FormatValue(last.value, s.unit)));
  if (last.critical_threshold) {
    absl::StrAppend(&svg, " / critical ",
                    Escape(FormatValue(*last.critical_threshold, s.unit)));
  }
  if (last.time_to_exhaustion) {
    absl::StrAppend(&svg, " &middot; <span class=\"tte\">exhausted in ",
                    Short(*last.time_to_exhaustion), "</span>");
  }
  return svg + "</div>";
}

class PageWriter {
 public:
  PageWriter(const Snapshot& snap, const ServiceIdentity& service,
             const HealthHistory* history, absl::Time now,
             const StatusPageOptions& options)
      : snap_(snap),
        service_(service),
        history_(history),
        now_(now),
        options_(options) {}

  std::string Render() {
    if (history_ != nullptr) {
      events_ = history_->Events();
      if (options_.details) {
        for (SampleSeries& s : history_->Samples()) {
          series_.emplace(s.check, std::move(s));
        }
      }
      heartbeats_ = history_->Heartbeats();
    }
    const Status overall = snap_.overall();
    absl::StrAppend(
        &out_,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,"
        "initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>",
        Escape(service_.name), " ", Name(overall), " &middot; statusz</title>",
        "<style>", kStyle, "</style></head><body>");
    absl::StrAppend(&out_, "<main data-self=\"", Escape(options_.self_url),
                    "\" data-events=\"", Escape(options_.events_url),
                    "\" data-refresh=\"", options_.refresh_seconds,
                    "\" data-overall=\"", Name(overall), "\">");
    Banner(overall);
    Checks();
    Heartbeats();
    Timeline();
    absl::StrAppend(&out_, "<footer>Generated ", UtcTime(now_),
                    " from snapshot ", snap_.generation,
                    " &middot; <span id=\"live\">live updates off</span> "
                    "<span id=\"js-errors\" hidden></span></footer></main>");
    absl::StrAppend(&out_, "<script>", kScript, "</script></body></html>\n");
    return std::move(out_);
  }

 private:
  absl::Time OverallSince() const {
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->kind == HistoryEvent::Kind::kGroup && it->subject == kAllGroup) {
        return it->time;
      }
    }
    return service_.start_time;
  }

  void Banner(Status overall) {
    const absl::Time since = OverallSince();
    absl::StrAppend(&out_, "<header class=\"banner ", Name(overall),
                    "\" id=\"banner\"><h1>", Escape(service_.name), " is ",
                    Name(overall), "</h1><span class=\"id\">",
                    Escape(service_.version.empty() ? "" : service_.version),
                    " on ", Escape(service_.instance), " &middot; since ",
                    UtcTime(since), " (", Short(now_ - since), ") &middot; up ",
                    Short(now_ - service_.start_time),
                    snap_.shutting_down ? " &middot; draining" : "",
                    "</span></header><div class=\"groups\">");
    for (const GroupSnapshot& g : snap_.groups) {
      absl::StrAppend(&out_, "<span class=\"chip\" data-group=\"",
                      Escape(g.name), "\" data-status=\"", Name(g.status),
                      "\">", Escape(g.name), " <span class=\"st ",
                      Name(g.status), "\">", Name(g.status), "</span>");
      if (!g.reason.empty()) {
        absl::StrAppend(&out_, " <span class=\"mute\">", Escape(g.reason),
                        "</span>");
      }
      out_ += "</span>";
    }
    out_ += "</div>";
    if (!options_.details) {
      out_ +=
          "<p class=\"notice\" id=\"withheld\">Details withheld: messages, "
          "observed values, sparklines and event messages are shown only to "
          "local clients or with the configured token. Names, statuses and "
          "times are shown to everyone.</p>";
    }
  }

  void Checks() {
    std::vector<const CheckSnapshot*> rows;
    for (const CheckSnapshot& c : snap_.checks) rows.push_back(&c);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const CheckSnapshot* a, const CheckSnapshot* b) {
                       return Rank(a->result.status) < Rank(b->result.status);
                     });
    absl::StrAppend(
        &out_, "<h2>Checks (", rows.size(),
        ")</h2><div class=\"wrap\"><table id=\"checks\"><thead><tr>"
        "<th data-key>Status</th><th data-key>Check</th>"
        "<th data-key>Message</th><th data-key>Trend</th>"
        "<th data-key class=\"opt\">Groups</th>"
        "<th data-key class=\"opt\">Kind</th>"
        "<th data-key class=\"opt\">Critical</th>"
        "<th data-key>Last run</th><th data-key class=\"opt\">Duration</th>"
        "<th data-key>In state</th>"
        "<th data-key class=\"opt\">Fail / pass</th></tr></thead><tbody>");
    for (const CheckSnapshot* c : rows) CheckRow(*c);
    out_ += "</tbody></table></div>";
  }

  void CheckRow(const CheckSnapshot& c) {
    const Status s = c.result.status;
    absl::StrAppend(&out_, "<tr class=\"", Name(s), "\" data-check=\"",
                    Escape(c.name), "\" data-status=\"", Name(s), "\"><td ",
                    "data-label=\"Status\" data-v=\"", Rank(s),
                    "\"><span class=\"st ", Name(s), "\">", Name(s), "</span>",
                    c.timed_out ? " <span class=\"mute\">timed out</span>" : "",
                    "</td><td data-label=\"Check\">", Escape(c.name),
                    "</td><td class=\"msg\" data-label=\"Message\">");
    if (options_.details) {
      out_ += Escape(c.result.message);
    } else {
      out_ += "<span class=\"mute\">withheld</span>";
    }
    out_ += "</td><td class=\"trend\" data-v=\"\">";
    auto it = series_.find(c.name);
    if (it != series_.end()) out_ += Sparkline(it->second);
    const absl::Duration in_state = now_ - c.state_since;
    absl::StrAppend(&out_, "</td><td class=\"opt\" data-label=\"Groups\">",
                    Escape(absl::StrJoin(c.groups, ", ")),
                    "</td><td class=\"opt\" data-label=\"Kind\">",
                    c.kind == CheckKind::kDependency ? "dependency" : "self",
                    "</td><td class=\"opt\" data-label=\"Critical\">",
                    c.critical ? "yes" : "no", "</td>");
    if (c.last_run_time == absl::InfinitePast()) {
      out_ += "<td data-label=\"Last run\" data-v=\"1e18\">never</td>";
    } else {
      const absl::Duration ago = now_ - c.last_run_time;
      absl::StrAppend(&out_, "<td data-label=\"Last run\" data-v=\"",
                      absl::ToInt64Milliseconds(ago), "\" title=\"",
                      UtcTime(c.last_run_time), "\">", Short(ago), " ago</td>");
    }
    absl::StrAppend(
        &out_, "<td class=\"opt\" data-label=\"Duration\" ", "data-v=\"",
        absl::ToDoubleMilliseconds(c.last_duration), "\">",
        Short(c.last_duration), "</td><td data-label=\"In state\" data-v=\"",
        absl::ToInt64Milliseconds(in_state), "\" title=\"since ",
        UtcTime(c.state_since), "\">", Short(in_state),
        "</td><td class=\"opt\" data-label=\"Fail / pass\" ", "data-v=\"",
        c.consecutive_failures, "\">", c.consecutive_failures, " / ",
        c.consecutive_successes, "</td></tr>");
  }

  void Heartbeats() {
    if (heartbeats_.empty()) return;
    absl::StrAppend(&out_, "<h2>Heartbeats (", heartbeats_.size(),
                    ")</h2><div class=\"wrap\"><table id=\"heartbeats\">"
                    "<thead><tr><th>Stage</th><th>Heartbeat</th><th>Silent "
                    "for</th><th>Miss after</th><th>Kill after</th></tr>"
                    "</thead><tbody>");
    for (const HeartbeatView& h : heartbeats_) {
      const char* cls = h.stage == "ok"     ? "healthy"
                        : h.stage == "miss" ? "degraded"
                                            : "unhealthy";
      absl::StrAppend(
          &out_, "<tr class=\"", cls, "\" data-heartbeat=\"", Escape(h.name),
          "\" data-stage=\"", Escape(h.stage),
          "\"><td data-label=\"Stage\"><span class=\"st ", cls, "\">",
          Escape(h.stage), "</span>", h.paused ? " (paused)" : "",
          "</td><td data-label=\"Heartbeat\">", Escape(h.name),
          "</td><td data-label=\"Silent for\">", Short(h.silent_for),
          "</td><td data-label=\"Miss after\">", Short(h.miss_after),
          "</td><td data-label=\"Kill after\">", Short(h.kill_after),
          "</td></tr>");
    }
    out_ += "</tbody></table></div>";
  }

  void Timeline() {
    if (history_ == nullptr) return;
    absl::StrAppend(&out_, "<h2>Recent transitions</h2><ol class=\"timeline\" ",
                    "id=\"timeline\">");
    int shown = 0;
    for (auto it = events_.rbegin();
         it != events_.rend() && shown < options_.max_timeline_events; ++it) {
      const HistoryEvent& e = *it;
      if (e.kind == HistoryEvent::Kind::kGroup && e.from == Status::kUnknown &&
          e.to == Status::kHealthy) {
        continue;  // Every group's start-up; says nothing.
      }
      ++shown;
      EventItem(e);
    }
    if (shown == 0) out_ += "<li class=\"mute\">none recorded yet</li>";
    out_ += "</ol>";
    if (history_->dropped_events() > 0) {
      absl::StrAppend(&out_, "<p class=\"mute\">", history_->dropped_events(),
                      " older events dropped (journal keeps ",
                      history_->options().max_events, ")</p>");
    }
  }

  void EventItem(const HistoryEvent& e) {
    absl::StrAppend(&out_, "<li data-seq=\"", e.sequence, "\" data-kind=\"",
                    HistoryEventKindName(e.kind), "\" data-subject=\"",
                    Escape(e.subject), "\" data-to=\"", Name(e.to),
                    "\"><span class=\"mute\">", UtcTime(e.time), " (",
                    Short(now_ - e.time), " ago)</span> ");
    switch (e.kind) {
      case HistoryEvent::Kind::kDrain:
        out_ += "<b>drain started</b>";
        break;
      case HistoryEvent::Kind::kWatchdog:
        absl::StrAppend(&out_, "watchdog <b>", Escape(e.watchdog_event),
                        "</b> ", Escape(e.subject));
        break;
      default:
        absl::StrAppend(&out_, HistoryEventKindName(e.kind), " <b>",
                        Escape(e.subject), "</b> <span class=\"st ",
                        Name(e.from), "\">", Name(e.from),
                        "</span> &rarr; <span class=\"st ", Name(e.to), "\">",
                        Name(e.to), "</span>");
        if (e.kind == HistoryEvent::Kind::kCheck) {
          absl::StrAppend(&out_, " <span class=\"mute\">(",
                          e.consecutive_failures, " failed / ",
                          e.consecutive_successes, " passed in a row)</span>");
        }
    }
    if (options_.details && !e.message.empty()) {
      absl::StrAppend(&out_, " &mdash; ", Escape(e.message));
    }
    out_ += "</li>";
  }

  const Snapshot& snap_;
  const ServiceIdentity& service_;
  const HealthHistory* history_;
  const absl::Time now_;
  const StatusPageOptions& options_;
  std::vector<HistoryEvent> events_;
  std::map<std::string, SampleSeries, std::less<>> series_;
  std::vector<HeartbeatView> heartbeats_;
  std::string out_;
};

}  // namespace

std::string RenderStatusPage(const Snapshot& snapshot,
                             const ServiceIdentity& service,
                             const HealthHistory* history, absl::Time now,
                             const StatusPageOptions& options) {
  return PageWriter(snapshot, service, history, now, options).Render();
}

}  // namespace internal
}  // namespace http
}  // namespace vigil
