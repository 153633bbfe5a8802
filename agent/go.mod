module github.com/meterline/meterline/agent

go 1.26.8

require (
	github.com/meterline/meterline/shared v0.0.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect

require (
	github.com/eclipse/paho.mqtt.golang v1.5.1
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/gosnmp/gosnmp v1.47.0
	github.com/meterline/meterline/printersim v0.0.0
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/net v0.44.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)

replace github.com/meterline/meterline/shared => ../shared

replace github.com/meterline/meterline/printersim => ../printersim
