// qf-store --config FILE [--instance NAME] [--url URL] [--migrations DIR] [--status-file FILE]
//          [--migrate-only]
// Writes the engine's history to PostgreSQL: a StateSource polls the state segment read-only
// and one Writer thread batches rows into the database (store/README.md). Its counters go to a
// JSON status file rewritten every second (tmp + rename). SIGINT/SIGTERM: writes what the queue
// holds (if the server is up) and exits 0; a failing migration exits 1 naming the file.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "qf/config/config.hpp"
#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "qf/store/source.hpp"
#include "qf/store/writer.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void usage() {
  std::fprintf(stderr, "usage: qf-store --config FILE [--instance NAME] [--url URL] [--migrations DIR]\n"
                       "                [--status-file FILE] [--migrate-only]\n");
}

void write_status(const std::string& path, const qf::store::Source& source, const qf::store::RowQueue& queue,
                  const qf::store::Writer& writer, bool running) {
  qf::ipc::JsonWriter out;
  out.begin_object().time("updated", qf::ipc::realtime_ns()).key("running").boolean(running);
  source.status(out);
  out.key("queue").begin_object().key("depth").u64(queue.size()).key("capacity").u64(queue.capacity());
  out.key("high_water").u64(queue.high_water());
  const auto per_table = [&](const char* name, auto get) {
    out.key(name).begin_object();
    for (std::size_t t = 0; t < qf::store::kTableCount; ++t) {
      out.key(qf::store::kTableNames[t]).u64(get(static_cast<qf::store::Table>(t)));
    }
    out.end_object();
  };
  per_table("queued", [&](qf::store::Table t) { return queue.pushed(t); });
  per_table("dropped", [&](qf::store::Table t) { return queue.dropped(t); });
  out.end_object();
  out.key("writer").begin_object();
  writer.status(out);
  out.end_object().end_object();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out.view() << '\n';
    if (!f) {
      std::fprintf(stderr, "qf-store: cannot write %s\n", tmp.c_str());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string config_path, instance, url, migrations = QF_STORE_MIGRATIONS_DIR, status_file;
  bool url_given = false, migrate_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--config" && has_value) {
      config_path = argv[++i];
    } else if (a == "--instance" && has_value) {
      instance = argv[++i];
    } else if (a == "--url" && has_value) {
      url = argv[++i];
      url_given = true;
    } else if (a == "--migrations" && has_value) {
      migrations = argv[++i];
    } else if (a == "--status-file" && has_value) {
      status_file = argv[++i];
    } else if (a == "--migrate-only") {
      migrate_only = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (config_path.empty()) {
    usage();
    return 2;
  }
  try {
    const qf::config::Config cfg = qf::config::load_config(config_path);
    const qf::config::StoreSection& sc = cfg.store;
    if (!url_given) {
      url = sc.url;
    }
    if (migrate_only) {
      const int n = qf::store::migrate(url, migrations);
      std::printf("qf-store: %d migration(s) applied from %s\n", n, migrations.c_str());
      return 0;
    }
    if (status_file.empty()) {
      status_file = sc.status_file;
    }
    if (const auto dir = std::filesystem::path(status_file).parent_path(); !dir.empty()) {
      std::filesystem::create_directories(dir);
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    qf::store::RowQueue queue(static_cast<std::size_t>(sc.queue_rows));
    qf::store::WriterOptions wo;
    wo.url = url;
    wo.migrations_dir = migrations;
    wo.batch_rows = static_cast<std::size_t>(sc.batch_rows);
    wo.flush_ms = sc.flush_ms;
    wo.retry_max_ms = sc.retry_max_ms;
    wo.retention_days = sc.retention_days;
    wo.partitions_ahead_days = sc.partitions_ahead_days;
    qf::store::Writer writer(wo, queue);
    qf::store::StateSourceOptions so;
    so.instance = instance.empty() ? cfg.engine.instance : instance;
    so.sample_ns = std::uint64_t{1'000'000} * static_cast<std::uint32_t>(sc.sample_ms);
    qf::store::StateSource source(so);

    writer.start();
    std::printf("qf-store: instance %s, status %s\n", so.instance.c_str(), status_file.c_str());
    std::uint64_t next_status = 0;
    int rc = 0;
    while (g_stop == 0) {
      if (const std::string fatal = writer.fatal_error(); !fatal.empty()) {
        std::fprintf(stderr, "qf-store: %s\n", fatal.c_str());
        rc = 1;
        break;
      }
      source.poll(queue);
      if (const std::uint64_t now = qf::ipc::realtime_ns(); now >= next_status) {
        next_status = now + 1'000'000'000ULL;
        write_status(status_file, source, queue, writer, true);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(sc.poll_ms));
    }
    writer.stop();
    write_status(status_file, source, queue, writer, false);
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf-store: %s\n", e.what());
    return 1;
  }
}
