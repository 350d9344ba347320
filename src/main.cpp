// peregrine: `serve` (default), `migrate`, `--help`, `--version` (CONTRACT.md).
// Only wiring: configuration is loaded here, everything else is app::.

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include <peregrine/app/server.hpp>
#include <peregrine/config/config.hpp>

int main(int argc, char** argv) {
  CLI::App cli{"Peregrine: sensor-fleet monitoring server (MQTT/HTTP ingest, alert rules, "
               "PostgreSQL, Redis, WebSocket)"};
  cli.set_version_flag("--version", std::string("peregrine ") + PEREGRINE_VERSION);
  std::string config_file;
  const std::string config_help = "TOML configuration file (default: config/peregrine.toml if present)";
  cli.add_option("--config", config_file, config_help);
  auto* serve = cli.add_subcommand("serve", "Run the server (the default)");
  auto* migrate = cli.add_subcommand("migrate", "Apply database migrations and exit");
  // `peregrine serve --config FILE` and `peregrine --config FILE serve` both work.
  serve->add_option("--config", config_file, config_help);
  migrate->add_option("--config", config_file, config_help);
  cli.require_subcommand(0, 1);
  cli.footer("Every configuration key can be overridden by its environment variable, e.g. "
             "PEREGRINE_HTTP_ADDR, PEREGRINE_PG_URL, PEREGRINE_REDIS_URL, PEREGRINE_MQTT_URL "
             "(see config/peregrine.toml).");
  CLI11_PARSE(cli, argc, argv);
  (void)serve;

  std::optional<std::string> file;
  if (!config_file.empty()) {
    file = config_file;
  } else if (std::FILE* f = std::fopen("config/peregrine.toml", "r")) {
    std::fclose(f);
    file = "config/peregrine.toml";
  }
  auto loaded = peregrine::config::load(file, [](const char* name) { return std::getenv(name); });
  if (auto* err = std::get_if<std::string>(&loaded)) {
    std::cerr << "peregrine: configuration error: " << *err << "\n";
    return 2;
  }
  const auto& cfg = std::get<peregrine::config::Config>(loaded);
  peregrine::app::init_logging(cfg.log_level);
  if (migrate->parsed()) return peregrine::app::migrate(cfg);
  return peregrine::app::serve(cfg);
}
