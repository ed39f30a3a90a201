fn main() {
    std::process::exit(arcaflow_py::cli::main());
}
