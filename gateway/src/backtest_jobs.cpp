#include "backtest_jobs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"

extern char** environ;

namespace qf::gateway {
namespace {

namespace fs = std::filesystem;

// The venue of a capture folder when the request names none (the folders of ../shared/captures).
std::string venue_of_folder(std::string_view capture) {
  const std::string_view folder = capture.substr(0, capture.find('/'));
  if (folder == "coinbase-exchange") {
    return "coinbase";
  }
  return std::string(folder);
}

Response accepted(ipc::JsonWriter& o) {
  Response r;
  r.status = 202;
  r.body = o.take();
  return r;
}

// A TOML value for a JSON scalar; empty when the value is not a scalar.
std::string toml_scalar(const nlohmann::json& v) {
  if (v.is_boolean()) {
    return v.get<bool>() ? "true" : "false";
  }
  if (v.is_number_integer() || v.is_number_unsigned() || v.is_number_float() || v.is_string()) {
    return v.dump(); // JSON numbers and strings (with their escapes) are valid TOML values
  }
  return {};
}

// The bytes of `path` from `offset` on (empty when it cannot be read).
std::string read_file(const std::string& path, long offset = 0) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    if (std::fseek(f, offset, SEEK_SET) == 0) {
      char buf[65536];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) {
        out.append(buf, n);
      }
    }
    std::fclose(f);
  }
  return out;
}

} // namespace

BacktestJobs::BacktestJobs(BacktestOptions o) : opt_(std::move(o)) {}

BacktestJobs::~BacktestJobs() {
  for (const Job& j : jobs_) {
    if (j.pid > 0) {
      ::kill(j.pid, SIGKILL);
      ::waitpid(j.pid, nullptr, 0);
    }
  }
}

Response BacktestJobs::submit(std::string_view body) {
  const nlohmann::json req = nlohmann::json::parse(body, nullptr, false);
  if (req.is_discarded() || !req.is_object()) {
    return json_error(400, "the body must be a JSON object {\"capture\": ..., \"overrides\": {...}}");
  }
  for (const auto& [k, v] : req.items()) {
    if (k != "capture" && k != "venue" && k != "overrides" && k != "speed") {
      return json_error(400, "unknown field " + k, k);
    }
  }
  if (!req.contains("capture") || !req["capture"].is_string()) {
    return json_error(400, "capture: a path relative to the data folder is required", "capture");
  }
  const std::string capture = req["capture"].get<std::string>();
  const fs::path rel(capture);
  bool escapes = rel.is_absolute() || capture.empty();
  for (const auto& part : rel) {
    escapes = escapes || part == "..";
  }
  std::error_code ec;
  const fs::path root = fs::canonical(opt_.data_dir, ec);
  const fs::path full = escapes || ec ? fs::path() : fs::canonical(root / rel, ec);
  const auto [root_end, full_it] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (escapes || ec || root_end != root.end() || !fs::is_regular_file(full, ec)) {
    return json_error(400, "capture: no such capture in the data folder: " + capture, "capture");
  }
  std::string venue = venue_of_folder(capture);
  if (req.contains("venue")) {
    if (!req["venue"].is_string() || req["venue"].get<std::string>().empty()) {
      return json_error(400, "venue: must be a venue name", "venue");
    }
    venue = req["venue"].get<std::string>();
  }
  const bool paced = req.contains("speed") && req["speed"] == "1";
  if (req.contains("speed") && !paced && req["speed"] != "max") {
    return json_error(400, "speed: \"max\" (default) or \"1\" (the capture's own pace)", "speed");
  }
  std::string toml;
  if (req.contains("overrides")) {
    const auto& ov = req["overrides"];
    if (!ov.is_object()) {
      return json_error(400, "overrides: must be an object of tables, {\"risk\": {...}}", "overrides");
    }
    for (const auto& [table, keys] : ov.items()) {
      if (!keys.is_object()) {
        return json_error(400, "overrides." + table + ": must be an object of values", "overrides");
      }
      toml.append("[").append(table).append("]\n");
      for (const auto& [key, value] : keys.items()) {
        const std::string scalar = toml_scalar(value);
        if (scalar.empty()) {
          return json_error(400, "overrides." + table + "." + key + ": must be a number, string or boolean",
                            "overrides");
        }
        toml.append("\"").append(key).append("\" = ").append(scalar).append("\n");
      }
    }
  }
  std::size_t waiting = 0;
  for (const Job& j : jobs_) {
    waiting += j.state == "queued" ? std::size_t{1} : std::size_t{0};
  }
  if (waiting >= static_cast<std::size_t>(opt_.max_queued)) {
    return json_error(429, "the backtest queue is full (" + std::to_string(opt_.max_queued) + " waiting); retry later");
  }
  Job j;
  j.id = next_id_++;
  j.capture = capture;
  j.capture_path = full.string();
  j.venue = venue;
  j.overrides_toml = toml;
  j.paced = paced;
  j.submitted_unix_ns = ipc::realtime_ns();
  j.dir = opt_.jobs_dir + "/" + std::to_string(j.id);
  jobs_.push_back(std::move(j));
  while (jobs_.size() > static_cast<std::size_t>(std::max(opt_.max_jobs_kept, 1)) && jobs_.front().pid <= 0 &&
         jobs_.front().state != "queued") {
    jobs_.pop_front();
  }
  poll(); // starts it at once when nothing runs
  ipc::JsonWriter o;
  o.begin_object().key("id").u64(jobs_.back().id).key("state").str(jobs_.back().state).end_object();
  return accepted(o);
}

void BacktestJobs::start(Job& j) {
  std::error_code ec;
  fs::create_directories(j.dir, ec);
  const std::string config = j.dir + "/config.toml";
  {
    std::ofstream out(config);
    out << "# overrides of backtest job " << j.id << "\n" << j.overrides_toml;
  }
  const std::string summary = j.dir + "/summary.json", err = j.dir + "/stderr.log", equity = j.dir + "/equity.csv";
  std::vector<std::string> args = {opt_.engine_binary, "replay", "--input", j.capture_path, "--venue", j.venue,
                                   "--equity-csv", equity, "--progress"};
  if (!j.overrides_toml.empty()) {
    args.insert(args.end(), {"--config", config});
  }
  if (j.paced) {
    args.insert(args.end(), {"--speed", "1"});
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, summary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, opt_.engine_binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  j.started_unix_ns = ipc::realtime_ns();
  if (rc != 0) {
    j.state = "failed";
    j.error = "cannot start " + opt_.engine_binary + ": " + std::strerror(rc);
    j.finished_unix_ns = j.started_unix_ns;
    return;
  }
  j.pid = pid;
  j.state = "running";
}

// Progress lines of `qf-engine replay --progress` on its stderr: "progress DONE TOTAL".
void BacktestJobs::read_progress(Job& j) {
  const std::string chunk = read_file(j.dir + "/stderr.log", static_cast<long>(j.stderr_read));
  j.stderr_read += chunk.size();
  j.stderr_partial += chunk;
  std::size_t start = 0;
  for (std::size_t nl; (nl = j.stderr_partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string_view line(j.stderr_partial.data() + start, nl - start);
    unsigned long long done = 0, total = 0;
    if (line.starts_with("progress ") &&
        std::sscanf(std::string(line).c_str(), "progress %llu %llu", &done, &total) == 2) {
      j.messages_done = done;
      j.messages_total = total;
    }
  }
  j.stderr_partial.erase(0, start);
}

void BacktestJobs::finish(Job& j, int wait_status) {
  read_progress(j);
  j.pid = -1;
  j.finished_unix_ns = ipc::realtime_ns();
  if (j.cancel_requested) {
    j.state = "cancelled";
    return;
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    j.summary = read_file(j.dir + "/summary.json");
    if (nlohmann::json::accept(j.summary)) {
      j.state = "done";
      return;
    }
    j.error = "the replay's summary is not JSON";
  } else {
    // The replay's last stderr line that is not progress says why.
    std::istringstream err(read_file(j.dir + "/stderr.log"));
    for (std::string line; std::getline(err, line);) {
      if (!line.starts_with("progress ") && !line.empty()) {
        j.error = line;
      }
    }
    if (j.error.empty()) {
      j.error = WIFSIGNALED(wait_status) ? "killed by signal " + std::to_string(WTERMSIG(wait_status))
                                         : "exit status " + std::to_string(WEXITSTATUS(wait_status));
    }
  }
  j.state = "failed";
}

void BacktestJobs::poll() {
  bool running = false;
  for (Job& j : jobs_) {
    if (j.pid <= 0) {
      continue;
    }
    int status = 0;
    const pid_t r = ::waitpid(j.pid, &status, WNOHANG);
    if (r == j.pid) {
      finish(j, status);
    } else {
      read_progress(j);
      running = true;
    }
  }
  if (running) {
    return;
  }
  for (Job& j : jobs_) {
    if (j.state == "queued") {
      start(j);
      if (j.state == "running") {
        return;
      }
    }
  }
}

const BacktestJobs::Job* BacktestJobs::find(std::string_view id) const {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (ec != std::errc() || p != id.data() + id.size()) {
    return nullptr;
  }
  for (const Job& j : jobs_) {
    if (j.id == n) {
      return &j;
    }
  }
  return nullptr;
}

Response BacktestJobs::cancel(std::string_view id) {
  Job* j = const_cast<Job*>(std::as_const(*this).find(id)); // the one lookup, shared with get()
  if (j == nullptr) {
    return json_error(404, "no backtest job " + std::string(id));
  }
  if (j->state == "queued") {
    j->state = "cancelled";
    j->finished_unix_ns = ipc::realtime_ns();
  } else if (j->state == "running") {
    j->cancel_requested = true;
    ::kill(j->pid, SIGTERM); // reaped by poll(), which then marks it cancelled
  } else {
    return json_error(409, "backtest job " + std::string(id) + " already " + j->state);
  }
  ipc::JsonWriter o;
  o.begin_object().key("id").u64(j->id).key("state").str(j->cancel_requested ? "cancelling" : j->state).end_object();
  return accepted(o);
}

std::string BacktestJobs::render(const Job& j, bool detail) const {
  ipc::JsonWriter o;
  o.begin_object().key("id").u64(j.id).key("state").str(j.state);
  o.key("capture").str(j.capture).key("venue").str(j.venue);
  o.key("progress").begin_object().key("messages").u64(j.messages_done).key("total").u64(j.messages_total).end_object();
  o.key("submitted_unix_ns").u64(j.submitted_unix_ns).key("started_unix_ns").u64(j.started_unix_ns);
  o.key("finished_unix_ns").u64(j.finished_unix_ns);
  if (!j.error.empty()) {
    o.key("error").str(j.error);
  }
  o.end_object();
  std::string out = o.take();
  if (j.state == "done") {
    // The replay's own summary (its metrics) and, in detail, the equity curve, as the CLI wrote them.
    const nlohmann::json summary = nlohmann::json::parse(j.summary, nullptr, false);
    std::string extra = ",\"backtest\":";
    extra += summary.contains("backtest") ? summary["backtest"].dump() : "null";
    if (detail) {
      std::string curve = "[";
      std::istringstream csv(read_file(j.dir + "/equity.csv"));
      std::string line;
      std::getline(csv, line); // header: unix_ns,equity,drawdown,...
      bool first = true;
      while (std::getline(csv, line)) {
        const auto c1 = line.find(','), c2 = line.find(',', c1 + 1), c3 = line.find(',', c2 + 1);
        if (c1 == std::string::npos || c2 == std::string::npos) {
          continue;
        }
        curve += first ? "" : ",";
        first = false;
        curve.append("[").append(line, 0, c1).append(",").append(line, c1 + 1, c2 - c1 - 1).append(",");
        curve.append(line, c2 + 1, (c3 == std::string::npos ? line.size() : c3) - c2 - 1).append("]");
      }
      extra.append(",\"equity\":{\"columns\":[\"unix_ns\",\"equity\",\"drawdown\"],\"rows\":").append(curve).append("]}");
    }
    out.insert(out.size() - 1, extra);
  }
  return out;
}

Response BacktestJobs::list() const {
  std::string body = "{\"jobs\":[";
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    body.append(i != 0 ? "," : "").append(render(jobs_[i], false));
  }
  body += "]}";
  Response r;
  r.body = std::move(body);
  return r;
}

Response BacktestJobs::get(std::string_view id) const {
  const Job* j = find(id);
  if (j == nullptr) {
    return json_error(404, "no backtest job " + std::string(id));
  }
  Response r;
  r.body = render(*j, true);
  return r;
}

Response BacktestJobs::captures() const {
  std::vector<std::pair<std::string, std::uintmax_t>> found;
  std::error_code ec;
  const fs::path root = fs::canonical(opt_.data_dir, ec);
  if (!ec) {
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (it->is_regular_file(ec) && (name.ends_with(".capture") || name.ends_with(".capture.gz"))) {
        found.emplace_back(fs::relative(it->path(), root, ec).string(), it->file_size(ec));
      }
    }
  }
  std::sort(found.begin(), found.end());
  ipc::JsonWriter o;
  o.begin_object().key("data_dir").str(opt_.data_dir).key("captures").begin_array();
  for (const auto& [name, size] : found) {
    o.begin_object().key("capture").str(name).key("venue").str(venue_of_folder(name)).key("bytes").u64(size);
    o.end_object();
  }
  o.end_array().end_object();
  Response r;
  r.body = o.take();
  return r;
}

} // namespace qf::gateway
