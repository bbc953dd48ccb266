// The /statusz page: a self-contained HTML status page for people.
// Not part of vigil's API: HealthEndpoints serves it (README "History and
// /statusz").
//
// One page, no external assets (inline CSS, SVG and a few lines of script),
// so it works offline and from a saved copy: an overall banner (service,
// overall and per-group status, since when), one row per check (worst
// first, sortable by any column), an SVG sparkline per check with samples
// (warn and critical lines, time to exhaustion), the watchdog's heartbeats
// (silence against their thresholds) and the recent transitions. Served by
// HealthEndpoints at EndpointPaths::statusz; the page refreshes itself in
// place (re-fetching itself every few seconds, or on each Server-Sent Event
// when the transport streams them).
//
// Narrower than 640 CSS px (a phone) each check becomes a card of labelled
// fields and the sparklines take the card's width, so nothing scrolls
// sideways. The page's script records what it measured of its own layout
// on the root element, for tests and for anyone reading the DOM:
// data-layout="viewport=W document=W rows-outside=N cells-clipped=N
// min-font=PX", and data-js-errors (script errors seen).
//
// Everything on it follows the details policy: without details the page
// shows names, statuses and times only, and says so at the top.
//
// It is rendered from a snapshot and the history: it never runs a check.

#ifndef VIGIL_HEALTH_HTTP_INTERNAL_STATUSZ_H_
#define VIGIL_HEALTH_HTTP_INTERNAL_STATUSZ_H_

#include <string>

#include "absl/time/time.h"
#include "health/history.h"
#include "health/registry.h"
#include "health/snapshot.h"

namespace vigil {
namespace http {
namespace internal {

struct StatusPageOptions {
  // Show messages, values, sparklines and event messages.
  bool details = false;
  // Seconds between in-page refreshes; 0 turns them off.
  int refresh_seconds = 5;
  // Transitions listed, newest first.
  int max_timeline_events = 50;
  // Where the page fetches fresh copies of itself (relative URL).
  std::string self_url = "statusz";
  // Server-Sent Events stream that triggers a refresh on each event
  // (relative URL); empty: refresh every refresh_seconds instead.
  std::string events_url;
};

// Renders the page. `history` may be null (no sparklines, heartbeats or
// timeline). `now` is the registry clock's time. Thread-safe; pure apart
// from reading `history`.
std::string RenderStatusPage(const Snapshot& snapshot,
                             const ServiceIdentity& service,
                             const HealthHistory* history, absl::Time now,
                             const StatusPageOptions& options);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_INTERNAL_STATUSZ_H_
