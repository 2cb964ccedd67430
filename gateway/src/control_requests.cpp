#include "control_requests.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "qf/ipc/fixed_point.hpp"
#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "server_state.hpp"

namespace qf::gateway::detail {

// The admin check every control-like request passes first: a token bucket of unauthenticated
// attempts per client address (checked before the token), then the token. False when it has
// answered (and audited) the request itself.
bool Server::authorize(lws* wsi, HttpTxn& t, const std::string& action) {
  t.audited = true;
  const auto refuse = [&](int status, const char* result, const std::string& why) {
    ++stats_.control_results[result];
    audit_.write(t.remote, action, result, status, 0, why);
    finish(wsi, t, json_error(status, why), true);
  };
  // Rate limit on unauthenticated attempts, per client address, checked before the token.
  const double cap = opt_.auth_failures_per_min;
  const std::uint64_t now = ipc::monotonic_ns();
  if (auth_buckets_.size() > 10'000) { // forget addresses whose bucket is full again
    std::erase_if(auth_buckets_, [&](const auto& kv) {
      return kv.second.suppressed == 0 && kv.second.tokens + static_cast<double>(now - kv.second.refilled_mono_ns) * cap / 60e9 >= cap;
    });
  }
  auto [bucket_it, fresh] = auth_buckets_.try_emplace(t.remote, AuthBucket{cap, now, 0});
  AuthBucket& bucket = bucket_it->second;
  if (!fresh) {
    bucket.tokens = std::min(cap, bucket.tokens + static_cast<double>(now - bucket.refilled_mono_ns) * cap / 60e9);
    bucket.refilled_mono_ns = now;
  }
  if (bucket.tokens < 1.0) {
    const std::string why = "too many unauthenticated control attempts from " + t.remote + "; retry later";
    ++stats_.control_results["rate_limited"];
    if (bucket.suppressed++ == 0) { // the first of a run is audited, the rest counted
      audit_.write(t.remote, action, "rate_limited", 429, 0, why);
    }
    finish(wsi, t, json_error(429, why), true);
    return false;
  }
  if (bucket.suppressed > 1) {
    audit_.write(t.remote, "rate limit summary", "rate_limited", 429, 0,
                 std::to_string(bucket.suppressed - 1) + " further 429 replies to " + t.remote + " not written");
  }
  bucket.suppressed = 0;
  const auto unauthenticated = [&] { bucket.tokens -= 1.0; };
  std::optional<std::string> token;
  const int tl = lws_hdr_custom_length(wsi, "x-admin-token:", 14);
  if (tl > 0) {
    std::string v(static_cast<std::size_t>(tl) + 1, '\0');
    if (lws_hdr_custom_copy(wsi, v.data(), tl + 1, "x-admin-token:", 14) > 0) {
      v.resize(static_cast<std::size_t>(tl));
      token = std::move(v);
    }
  }
  switch (auth_.check(token)) {
  case AdminAuth::Verdict::not_configured:
    refuse(403, "forbidden",
           "controls are disabled: no admin token configured (set QF_ADMIN_TOKEN or [gateway] admin_token_file)");
    return false;
  case AdminAuth::Verdict::missing:
    unauthenticated();
    refuse(401, "unauthorized", "missing X-Admin-Token header");
    return false;
  case AdminAuth::Verdict::wrong:
    unauthenticated();
    refuse(401, "unauthorized", "wrong admin token");
    return false;
  case AdminAuth::Verdict::ok: break;
  }
  return true;
}

void Server::start_control(lws* wsi, HttpTxn& t, const ControlTarget& target, const Response* invalid) {
  const std::string action = target.name();
  t.audited = true; // every outcome below is audited here or in resolve_controls
  const auto refuse = [&](int status, const char* result, const std::string& why) {
    ++stats_.control_results[result];
    audit_.write(t.remote, action, result, status, 0, why);
    finish(wsi, t, json_error(status, why), true);
  };
  if (!authorize(wsi, t, action)) {
    return;
  }
  const auto bad_body = [&](const Response& r) {
    ++stats_.control_results["bad_request"];
    std::string why = "bad request body";
    try {
      why = nlohmann::json::parse(r.body).at("error").get<std::string>();
    } catch (const std::exception&) {
    }
    audit_.write(t.remote, action, "bad_request", r.status, 0, why);
    finish(wsi, t, r, true);
  };
  if (invalid != nullptr) { // a bad body, answered only to an authorised caller
    bad_body(*invalid);
    return;
  }
  const ipc::StateSnapshot& s = snapshot(true);
  if (s.status != ipc::EngineStatus::running) {
    std::string why = "engine not running: ";
    why += ipc::to_string(s.status);
    refuse(503, "unavailable", why);
    return;
  }
  ipc::ControlCommand command{};
  command.action = target.action;
  command.instrument = ipc::kNoInstrument;
  std::string key;
  const bool order = target.action == ipc::ControlAction::paper_order;
  if (target.action == ipc::ControlAction::resync || order) {
    const int idx = find_instrument(s, target.venue, target.symbol);
    if (idx < 0) {
      std::string why = "unknown instrument ";
      why += target.venue;
      why += ':';
      why += target.symbol;
      if (order) { // a field of the order's body: 400, like its other fields
        bad_body(invalid_field("instrument", why));
        return;
      }
      refuse(404, "unknown_instrument", why);
      return;
    }
    command.instrument = static_cast<std::uint16_t>(idx);
    key = instrument_key(s.instruments[static_cast<std::size_t>(idx)].info);
  }
  if (order) { // exact in the instrument's decimals, or 400 saying why
    const ipc::InstrumentInfo& info = s.instruments[command.instrument].info;
    const auto exact = [&](const char* field, const std::string& text, int decimals, std::int64_t& out) {
      const ipc::DecimalError e = ipc::parse_fixed(text, decimals, out);
      if (e == ipc::DecimalError::ok && out > 0) {
        return true;
      }
      std::string why = e == ipc::DecimalError::too_precise
                            ? "more than " + std::to_string(decimals) + " decimals for " + key
                        : e == ipc::DecimalError::ok ? std::string("must be positive")
                                                     : std::string("expected a positive decimal (\"0.01\")");
      bad_body(invalid_field(field, why));
      return false;
    };
    command.side = target.side;
    command.order_type = target.order_type;
    if (!exact("qty", target.qty, info.qty_decimals, command.qty) ||
        (target.order_type == ipc::OrderType::limit &&
         !exact("price", target.price, info.price_decimals, command.price))) {
      return;
    }
  }
  command.limit = target.limit;
  command.value_mantissa = target.value_mantissa;
  command.value_decimals = target.value_decimals;
  std::string why;
  std::string actor = "gateway ";
  actor += t.remote;
  const std::uint64_t deadline =
      ipc::monotonic_ns() + static_cast<std::uint64_t>(opt_.control_timeout_ms) * std::uint64_t{1'000'000};
  const auto id = control_.push(command, actor, deadline, why);
  if (!id) {
    refuse(503, "unavailable", why);
    return;
  }
  pending_.push_back(PendingControl{wsi, t.serial, *id, deadline + kAckGraceNs, action, key, t.remote});
}

void Server::resolve_controls() {
  if (pending_.empty() && late_.empty()) {
    return;
  }
  const std::uint64_t now = ipc::monotonic_ns();
  bool faulted = false; // SIGBUS in the state mapping: read it again below (damaged, detached)
  for (auto it = late_.begin(); it != late_.end();) {
    const auto ack = find_ack(reader_.view(), it->id, faulted);
    if (!ack && now < it->deadline_mono_ns) {
      ++it;
      continue;
    }
    std::string result = "late ";
    result += ack ? ipc::to_string(ack->result) : "none";
    std::string detail = "after the 504: ";
    detail += ack ? ipc::text_of(ack->text) : std::string_view("no acknowledgement within 60 s");
    audit_.write(it->remote, it->action, result, 504, it->id, detail);
    it = late_.erase(it);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto ack = find_ack(reader_.view(), it->id, faulted);
    if (!ack && now < it->deadline_mono_ns) {
      ++it;
      continue;
    }
    Response resp;
    const char* result = "timeout";
    std::string detail;
    if (ack) {
      result = ipc::to_string(ack->result);
      detail.assign(ipc::text_of(ack->text));
      switch (ack->result) {
      case ipc::ControlResult::done: resp.status = 200; break;
      case ipc::ControlResult::unknown_instrument: resp.status = 404; break;
      case ipc::ControlResult::unsupported: resp.status = 501; break;
      case ipc::ControlResult::rejected: resp.status = 409; break;
      case ipc::ControlResult::expired: resp.status = 504; break;
      }
      ipc::JsonWriter o;
      o.begin_object().key("id").u64(it->id).key("action").str(it->action);
      o.key("instrument");
      it->instrument.empty() ? o.null() : o.str(it->instrument);
      o.key("result").str(result).key("text").str(detail);
      o.time("acknowledged", ack->unix_ns);
      if (ack->action == ipc::ControlAction::paper_order) {
        const bool accepted = ack->result == ipc::ControlResult::done;
        o.key("accepted").boolean(accepted).key("refusal");
        ack->refusal != 0 && ack->refusal < ipc::kMaxRefusalReasons ? o.str(ipc::kRefusalNames[ack->refusal]) : o.null();
        o.key("order_id").u64(ack->order_id).key("pending").boolean(ack->pending != 0).key("qty").exact(ack->qty);
        o.key("filled_qty").exact(ack->filled_qty).key("avg_price").exact(ack->avg_price).key("fee").exact(ack->fee);
      }
      if (ack->action == ipc::ControlAction::model_reload) { // the model now in force, the refusal in full
        o.key("model");
        render_model(o, snapshot(true));
      }
      o.key("status").i64(resp.status).end_object();
      resp.body = o.take();
    } else {
      detail = "no acknowledgement from the engine within ";
      detail += std::to_string(opt_.control_timeout_ms);
      detail += " ms (control timeout)";
      resp = json_error(504, detail);
      if (late_.size() < 64) { // watched for the engine's final word (expired, once it runs again)
        late_.push_back(*it);
        late_.back().deadline_mono_ns = now + kLateAckWatchNs;
      }
    }
    ++stats_.control_results[result];
    audit_.write(it->remote, it->action, result, resp.status, it->id, detail);
    const auto h = http_.find(it->wsi);
    if (h != http_.end() && h->second.serial == it->serial) {
      finish(it->wsi, h->second, std::move(resp), false);
    }
    it = pending_.erase(it);
  }
  if (faulted) {
    std::fprintf(stderr, "qf-gateway: SIGBUS in the state mapping looking up a control acknowledgement: "
                         "segment damaged, reading it again\n");
    (void)snapshot(true); // reports the segment damaged and detaches: no fault on the next tick
  }
}

} // namespace qf::gateway::detail
