-- wrk script for the POST workload of run-benchmarks: every request creates one small item.
--   wrk -t1 -c50 -d3s -s tests/bench/post.lua http://127.0.0.1:3000/items
wrk.method = "POST"
wrk.body = '{"title":"write the benchmark report","completed":false}'
wrk.headers["Content-Type"] = "application/json"
