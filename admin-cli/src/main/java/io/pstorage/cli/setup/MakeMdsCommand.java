package io.pstorage.cli.setup;

import io.pstorage.cli.Pstorage;
import io.pstorage.common.BsList;
import io.pstorage.common.ClusterName;
import io.pstorage.common.ConfigRoot;
import io.pstorage.common.HostPort;
import io.pstorage.common.LocalServices;
import io.pstorage.common.PcsException;
import io.pstorage.common.mds.MdsClient;
import io.pstorage.common.security.CertificateAuthority;
import io.pstorage.common.security.ClusterTls;
import io.pstorage.common.security.PasswordDigest;
import io.pstorage.common.security.Pem;
import io.pstorage.common.security.SecretFiles;
import io.pstorage.mds.MdsConfig;
import io.pstorage.mds.membership.MdsSecrets;
import io.pstorage.proto.MdsJoinInfo;
import io.pstorage.proto.MdsRequest;
import io.pstorage.proto.PrepareMdsRequest;
import io.pstorage.proto.StatusCode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code make-mds -I -a ADDR -r DIR -p}: a new cluster and its first MDS (password, CA, this
 * host's credentials). Without -I: one more MDS for an existing cluster, joining its Raft group
 * when started. Either way the daemon is started by {@code pstorage-mdsd start}.
 */
@Command(name = "make-mds", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Create a metadata server.",
        "With -I, create a new cluster: its password (-p), certificate authority and first MDS.",
        "Without -I, add an MDS to an existing cluster (this host must have run auth-node).",
        "Start the new MDS with: pstorage-mdsd start"})
public final class MakeMdsCommand implements Callable<Integer> {
  @ParentCommand Pstorage parent;
  @Spec CommandSpec spec;

  @Option(names = {"-I", "--init"}, description = "create a new cluster")
  boolean init;

  @Option(names = {"-a", "--address"}, required = true, paramLabel = "ADDR[:PORT]",
      description = "address clients use (port default 2510; Raft uses PORT+1, auth-node PORT+2)")
  String address;

  @Option(names = {"-r", "--root"}, required = true, paramLabel = "DIR", description = "data directory (new or empty)")
  Path dir;

  @Option(names = {"-p", "--password"}, description = "ask for the new cluster's password (stdin when not a terminal)")
  boolean password;

  @Override
  public Integer call() throws Exception {
    String cluster = ClusterName.validate(parent.cluster());
    HostPort client = HostPort.parse(BsList.withDefaultPort(address));
    HostPort raft = new HostPort(client.host(), client.port() + 1);
    PrintWriter out = spec.commandLine().getOut();
    if (init) {
      return create(cluster, client, raft, out);
    }
    if (password) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT,
          "-p sets the password of a new cluster and goes with -I; to add an MDS, run auth-node first and drop -p");
    }
    return add(cluster, client, raft, out);
  }

  private int create(String cluster, HostPort client, HostPort raft, PrintWriter out) throws Exception {
    Path conf = ConfigRoot.clusterDir(cluster);
    if (Files.exists(conf.resolve("bs.list")) || Files.exists(conf.resolve(ClusterTls.CA_CERT))) {
      throw new PcsException(StatusCode.ALREADY_EXISTS, "cluster '" + cluster + "' already exists on this host ("
          + conf + "): choose another name, or drop -I to add an MDS to it");
    }
    if (!password) {
      throw new PcsException(StatusCode.INVALID_ARGUMENT, "a new cluster needs a password: add -p");
    }
    try (NewDirectory made = new NewDirectory()) {
      Path data = made.data(dir, "MDS data directory");
      char[] pw = PasswordInput.read("Cluster password: ", true);
      PasswordDigest digest = PasswordDigest.create(pw);
      Arrays.fill(pw, '\0');
      CertificateAuthority ca = CertificateAuthority.create(cluster);
      KeyPair host = CertificateAuthority.newKeyPair();
      if (!Files.exists(conf)) {
        made.track(conf);
      }
      ClusterTls.save(conf, ca.certificate(), ca.issue(cluster, client.host(), host.getPublic()), host.getPrivate());
      SecretFiles.write(conf.resolve(PasswordDigest.FILE_NAME), digest.encode());
      SecretFiles.writePublic(conf.resolve("bs.list"), client + "\n");

      MdsConfig c = new MdsConfig();
      c.cluster = cluster;
      c.nodeId = "1";
      c.dataDir = data;
      c.peers.add(new MdsConfig.Peer("1", client, raft));
      c.validate().save();
      MdsSecrets.write(data, Pem.privateKey(ca.key()), digest.encode());
      LocalServices.add(cluster, LocalServices.Kind.MDS, data);
      made.commit();
      out.printf("created cluster '%s': MDS 1 at %s (Raft %s), data in %s%n", cluster, client, raft, data);
      out.printf("credentials of this host are in %s%n", conf);
      out.printf("start it with: pstorage-mdsd start%n");
      return 0;
    }
  }

  private int add(String cluster, HostPort client, HostPort raft, PrintWriter out) throws Exception {
    ClusterTls.forCluster(cluster); // says what to run when this host has no credentials
    try (NewDirectory made = new NewDirectory(); MdsClient m = parent.connect()) {
      Path data = made.data(dir, "MDS data directory");
      MdsJoinInfo j = m.call(MdsRequest.newBuilder().setPrepareMds(PrepareMdsRequest.newBuilder()
          .setClientAddress(client.toString()).setRaftAddress(raft.toString()))).getJoinInfo();
      MdsConfig c = new MdsConfig();
      c.cluster = cluster;
      c.nodeId = j.getNodeId();
      c.dataDir = data;
      for (String p : j.getPeersList()) {
        c.peers.add(MdsConfig.Peer.parse(p));
      }
      c.peers.add(new MdsConfig.Peer(j.getNodeId(), client, raft));
      c.joining = true;
      c.validate().save();
      MdsSecrets.write(data, j.getCaKeyPem(), j.getAuthDigest());
      LocalServices.add(cluster, LocalServices.Kind.MDS, data);
      Path bs = ConfigRoot.bsList(cluster);
      if (!BsList.read(bs).contains(client.toString())) {
        Files.writeString(bs, client + "\n", java.nio.file.StandardOpenOption.APPEND);
      }
      made.commit();
      out.printf("MDS %s of cluster '%s' created at %s (Raft %s), data in %s%n", j.getNodeId(), cluster, client, raft, data);
      out.printf("it joins the group when started: pstorage-mdsd start%n");
      return 0;
    }
  }
}
