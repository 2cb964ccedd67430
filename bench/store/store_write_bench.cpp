// qf-store's writer throughput: N one-second bars (3 symbols, consecutive seconds from a fixed UTC
// day) queued, then written by qf::store::Writer (COPY into staging, INSERT ... ON CONFLICT DO
// NOTHING, a partition per day) until the queue is empty. Prints one JSON line. With --copy-file it
// also writes the same rows (engine_start + 1, days after ours, so the reference fills partitions
// and an index of the same size) for bench/store/store_bench.py's reference: plain COPY.
//   store_write_bench URL MIGRATIONS_DIR ROWS [--copy-file FILE]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "qf/store/row.hpp"
#include "qf/store/row_queue.hpp"
#include "qf/store/writer.hpp"

namespace {

constexpr std::uint64_t kStartNs = 1'723'075'200ULL * 1'000'000'000ULL; // 2024-08-08 00:00 UTC
constexpr const char* kSymbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};

// The row of bar `i` as the state source writes it (store/src/state_source.cpp, Table::bars).
qf::store::Row bar(std::uint64_t i, std::uint64_t engine_start, std::uint64_t day_offset) {
  qf::store::Row r;
  r.table = qf::store::Table::bars;
  const std::uint64_t ts = kStartNs + day_offset * qf::store::kNsPerDay + (i / 3) * 1'000'000'000ULL;
  r.day = static_cast<std::int64_t>(ts / qf::store::kNsPerDay);
  const double px = 60'000.0 + static_cast<double>(i % 997) * 0.01;
  qf::store::CopyLine l(r.line);
  l.u64(engine_start).text("binance-spot").text(kSymbols[i % 3]).i64(1).time(ts);
  l.real(px).real(px + 1.5).real(px - 1.5).real(px + 0.25).real(0.125 * static_cast<double>(i % 17));
  l.i64(static_cast<std::int64_t>(i % 40)).real(50.0).real(0.5).real(1.25);
  return r;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: store_write_bench URL MIGRATIONS_DIR ROWS [--copy-file FILE]\n");
    return 2;
  }
  const std::uint64_t rows = std::strtoull(argv[3], nullptr, 10);
  if (argc == 6) { // the reference's rows: after ours in time, as plain COPY text
    std::ofstream out(argv[5]);
    const std::uint64_t days = rows / 3 / 86'400 + 1;
    for (std::uint64_t i = 0; i < rows; ++i) {
      out << bar(i, 2, days).line << '\n';
    }
  }
  qf::store::RowQueue queue(rows);
  for (std::uint64_t i = 0; i < rows; ++i) {
    if (!queue.push(bar(i, 1, 0))) {
      std::fprintf(stderr, "store_write_bench: queue refused row %llu\n", static_cast<unsigned long long>(i));
      return 1;
    }
  }
  qf::store::WriterOptions o;
  o.url = argv[1];
  o.migrations_dir = argv[2];
  o.retention_days = 0;
  o.partitions_ahead_days = 0;
  qf::store::Writer writer(o, queue);
  const auto t0 = std::chrono::steady_clock::now();
  writer.start();
  queue.close();
  writer.stop(); // returns once the queue is written
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!writer.fatal_error().empty()) {
    std::fprintf(stderr, "store_write_bench: %s\n", writer.fatal_error().c_str());
    return 1;
  }
  qf::ipc::JsonWriter status;
  status.begin_object();
  writer.status(status);
  status.end_object();
  const std::string writer_status = status.take();
  std::printf("{\"rows\": %llu, \"seconds\": %.3f, \"rows_per_s\": %.0f, \"writer\": %s}\n",
              static_cast<unsigned long long>(rows), s, static_cast<double>(rows) / s, writer_status.c_str());
  return 0;
}
