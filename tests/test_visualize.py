"""Ranked-results visualisation: the seed's folder layout, the pictures and index.html, for images and tracklets."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from torchreid.visualize import visualize_ranked_results

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]


def write_image(path, colour):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new('RGB', (32, 64), colour).save(path)
    return path


def image_dataset(root):
    query = [(write_image(os.path.join(root, 'query', '0001_c1_q.jpg'), COLOURS[0]), 1, 0),
             (write_image(os.path.join(root, 'query', '0002_c2_q.jpg'), COLOURS[1]), 2, 1)]
    gallery_ids = [(1, 0), (1, 1), (2, 0), (3, 1), (2, 1)]  # (pid, camid)
    gallery = [(write_image(os.path.join(root, 'gallery', 'g{}.jpg'.format(i)), COLOURS[2 + i % 4]), pid, camid)
               for i, (pid, camid) in enumerate(gallery_ids)]
    return query, gallery


def test_image_layout_pictures_and_index(tmp_path, capsys):
    query, gallery = image_dataset(str(tmp_path / 'data'))
    distmat = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5],
                            [0.5, 0.1, 0.4, 0.2, 0.3]])
    save_dir = str(tmp_path / 'ranked_results')
    index_path = visualize_ranked_results(distmat, (query, gallery), save_dir, topk=3)
    output = capsys.readouterr().out
    assert 'Visualizing top-3 ranks' in output and '# query: 2\n# gallery 5' in output and output.endswith('Done\n')

    # query 0 (pid 1, cam 0): g0 is dropped (same pid and camera); ranking g1, g2, g3
    assert sorted(os.listdir(os.path.join(save_dir, '0001_c1_q.jpg'))) == [
        'gallery_top001_name_g1.jpg', 'gallery_top002_name_g2.jpg', 'gallery_top003_name_g3.jpg',
        'query_top000_name_0001_c1_q.jpg', 'ranked_list.jpg']
    # query 1 (pid 2, cam 1): g4 dropped; ranking g1, g3, g2
    assert sorted(os.listdir(os.path.join(save_dir, '0002_c2_q.jpg'))) == [
        'gallery_top001_name_g1.jpg', 'gallery_top002_name_g3.jpg', 'gallery_top003_name_g2.jpg',
        'query_top000_name_0002_c2_q.jpg', 'ranked_list.jpg']

    picture = Image.open(os.path.join(save_dir, '0001_c1_q.jpg', 'ranked_list.jpg')).convert('RGB')
    assert picture.size[0] > 4 * 64
    # borders: query black, rank 1 (g1, pid 1) green, rank 2 (g2, pid 2) red
    x_first = 64 + 16
    assert max(abs(a - b) for a, b in zip(picture.getpixel((1, 60)), (0, 0, 0))) < 40
    assert max(abs(a - b) for a, b in zip(picture.getpixel((x_first + 1, 60)), (0, 180, 0))) < 40
    assert max(abs(a - b) for a, b in zip(picture.getpixel((x_first + 64 + 4 + 1, 60)), (220, 0, 0))) < 40

    html = open(index_path).read()
    assert index_path == os.path.join(save_dir, 'index.html')
    assert html.count('<img ') == 2
    assert 'src="0001_c1_q.jpg/ranked_list.jpg"' in html and 'src="0002_c2_q.jpg/ranked_list.jpg"' in html


def test_video_tracklets(tmp_path):
    root = str(tmp_path / 'data')

    def tracklet(name, colour, num_frames=3):
        return tuple(write_image(os.path.join(root, name, '{}F{:03d}.jpg'.format(name, f)), colour)
                     for f in range(num_frames))

    query = [(tracklet('0001C1T0001', COLOURS[0]), 1, 0)]
    gallery = [(tracklet('0001C2T0002', COLOURS[1]), 1, 1), (tracklet('0005C2T0003', COLOURS[2], 2), 5, 1),
               (tracklet('0001C1T0004', COLOURS[3]), 1, 0)]
    save_dir = str(tmp_path / 'ranked_results')
    visualize_ranked_results(np.array([[0.3, 0.2, 0.1]]), (query, gallery), save_dir, topk=20, data_type='video')
    query_dir = os.path.join(save_dir, '0001C1T0001F000.jpg')  # named by the first frame
    assert sorted(os.listdir(query_dir)) == ['gallery_top001', 'gallery_top002', 'query_top000', 'ranked_list.jpg']
    assert sorted(os.listdir(os.path.join(query_dir, 'query_top000'))) == [
        '0001C1T0001F000.jpg', '0001C1T0001F001.jpg', '0001C1T0001F002.jpg']
    assert sorted(os.listdir(os.path.join(query_dir, 'gallery_top001'))) == [
        '0005C2T0003F000.jpg', '0005C2T0003F001.jpg']
    assert len(os.listdir(os.path.join(query_dir, 'gallery_top002'))) == 3
    assert Image.open(os.path.join(query_dir, 'ranked_list.jpg')).size[0] == 64 + 16 + 2 * (64 + 4)


def test_repeated_query_names_get_distinct_folders(tmp_path):
    path = write_image(str(tmp_path / 'same.jpg'), COLOURS[0])
    gallery = [(write_image(str(tmp_path / 'g.jpg'), COLOURS[1]), 1, 1)]
    save_dir = str(tmp_path / 'out')
    visualize_ranked_results(np.zeros((2, 1)), ([(path, 1, 0), (path, 1, 0)], gallery), save_dir, topk=1)
    assert sorted(d for d in os.listdir(save_dir) if d != 'index.html') == ['same.jpg', 'same.jpg_q1']


def test_bad_input(tmp_path):
    query, gallery = image_dataset(str(tmp_path / 'data'))
    save_dir = str(tmp_path / 'out')
    with pytest.raises(ValueError, match='distmat has shape'):
        visualize_ranked_results(np.zeros((2, 4)), (query, gallery), save_dir)
    with pytest.raises(ValueError, match="data_type='video'"):
        visualize_ranked_results(np.zeros((2, 5)), (query, gallery), save_dir, data_type='video')
    video_query = [(tuple(p for p, _, _ in query), 1, 0)]
    with pytest.raises(ValueError, match="data_type='image'"):
        visualize_ranked_results(np.zeros((1, 5)), (video_query, gallery), save_dir)
    with pytest.raises(ValueError, match='topk'):
        visualize_ranked_results(np.zeros((2, 5)), (query, gallery), save_dir, topk=0)
    with pytest.raises(ValueError, match='data_type must be'):
        visualize_ranked_results(np.zeros((2, 5)), (query, gallery), save_dir, data_type='tracklet')
