"""Ranked-results visualisation: the seed's folder of copied images per query, a picture per query and an index.html.

Layout under ``save_dir`` (the scripts pass ``<save-dir>/ranked_results``):

    <query name>/                      one folder per query, named by the query image's file name (a tracklet:
                                       its first frame's); a repeated name gets a ``_q<index>`` suffix
        query_top000_name_<file>       the query image            (tracklet: folder query_top000/ with its frames)
        gallery_top001_name_<file>     the top-k gallery images   (tracklet: folders gallery_top001/, ...)
        ...
        ranked_list.jpg                the query, then its top-k: green border = same identity, red = different
    index.html                         every query's ranked_list.jpg on one page

Gallery items with the query's pid *and* camera are skipped (they do not count in evaluation either); ties between
equal distances are ranked by gallery index, as in evaluation.
"""
import html
import os.path as osp
import shutil
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw

from .utils.iotools import mkdir_if_missing

CELL_WIDTH, CELL_HEIGHT, BORDER = 64, 128, 4
GAP, QUERY_GAP, LABEL_HEIGHT = 4, 16, 14
MATCH_COLOUR, MISMATCH_COLOUR, QUERY_COLOUR = (0, 180, 0), (220, 0, 0), (0, 0, 0)
PICTURE_NAME = 'ranked_list.jpg'


def _frames(path, data_type):
    """The list of image files of a sample (one for an image, the frames for a tracklet); checks data_type."""
    is_tracklet = isinstance(path, (tuple, list))
    if data_type == 'image' and is_tracklet:
        raise ValueError("data_type='image' but a sample's path is a tuple of frames; pass data_type='video'")
    if data_type == 'video' and not is_tracklet:
        raise ValueError("data_type='video' but a sample's path is a single file {!r}; pass data_type='image'"
                         .format(path))
    frames = list(path) if is_tracklet else [path]
    if not frames:
        raise ValueError('a tracklet has no frames')
    return frames


def _copy_sample(frames, data_type, folder, prefix, rank):
    """The seed's copies: an image as <prefix>_topNNN_name_<file>, a tracklet's frames into <prefix>_topNNN/."""
    if data_type == 'video':
        destination = osp.join(folder, '{}_top{:03d}'.format(prefix, rank))
        mkdir_if_missing(destination)
        for frame in frames:
            shutil.copy(frame, destination)
    else:
        shutil.copy(frames[0], osp.join(folder, '{}_top{:03d}_name_{}'.format(prefix, rank, osp.basename(frames[0]))))


def _thumbnail(frames, colour):
    """The representative frame (the middle one of a tracklet), resized, inside a coloured border."""
    with Image.open(frames[len(frames) // 2]) as image:
        picture = image.convert('RGB').resize((CELL_WIDTH - 2 * BORDER, CELL_HEIGHT - 2 * BORDER))
    cell = Image.new('RGB', (CELL_WIDTH, CELL_HEIGHT), colour)
    cell.paste(picture, (BORDER, BORDER))
    return cell


def _draw_ranked_list(query_frames, ranked, save_path):
    """One picture: the query, then each (frames, is_match) of its top-k, labelled with the rank."""
    width = CELL_WIDTH + QUERY_GAP + len(ranked) * (CELL_WIDTH + GAP)
    canvas = Image.new('RGB', (width, CELL_HEIGHT + LABEL_HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    canvas.paste(_thumbnail(query_frames, QUERY_COLOUR), (0, 0))
    draw.text((2, CELL_HEIGHT + 1), 'query', fill=(0, 0, 0))
    x = CELL_WIDTH + QUERY_GAP
    for rank, (frames, is_match) in enumerate(ranked, start=1):
        canvas.paste(_thumbnail(frames, MATCH_COLOUR if is_match else MISMATCH_COLOUR), (x, 0))
        draw.text((x + 2, CELL_HEIGHT + 1), str(rank), fill=(0, 0, 0))
        x += CELL_WIDTH + GAP
    canvas.save(save_path, quality=90)


def _write_index(save_dir, entries, topk):
    """index.html listing every query's picture (relative links, escaped)."""
    lines = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8"><title>Ranked results</title></head><body>',
             '<h1>Top-{} ranked gallery items per query</h1>'.format(topk),
             '<p>Green border: same identity as the query; red: different identity. Gallery items with the '
             "query's identity and camera are skipped.</p>"]
    for query_index, folder, pid, camid in entries:
        link = quote(folder) + '/' + PICTURE_NAME
        lines.append('<h3>Query {}: {} (pid {}, camera {})</h3>'.format(query_index, html.escape(folder), pid, camid))
        lines.append('<a href="{0}"><img src="{0}" loading="lazy" alt="{1}"></a>'.format(
            html.escape(link, quote=True), html.escape(folder, quote=True)))
    lines.append('</body></html>')
    index_path = osp.join(save_dir, 'index.html')
    with open(index_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    return index_path


def visualize_ranked_results(distmat, dataset, save_dir, topk=20, data_type='image'):
    """Writes the top-k ranked gallery items of every query under save_dir (layout in the module docstring).

    distmat: (Q, G) distances (numpy or torch). dataset: (query, gallery), lists of (path, pid, camid) samples;
    for data_type='video' a path is a tuple of frame paths. Returns the path of index.html.
    """
    if hasattr(distmat, 'detach'):  # a torch tensor
        distmat = distmat.detach().cpu().numpy()
    distmat = np.asarray(distmat)
    if data_type not in ('image', 'video'):
        raise ValueError("data_type must be 'image' or 'video', got {!r}".format(data_type))
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise ValueError('topk must be a positive integer, got {!r}'.format(topk))
    query, gallery = dataset
    if distmat.ndim != 2 or distmat.shape != (len(query), len(gallery)):
        raise ValueError('distmat has shape {} but the dataset has {} query and {} gallery samples'.format(
            distmat.shape, len(query), len(gallery)))
    num_q, num_g = distmat.shape
    print('Visualizing top-{} ranks'.format(topk))
    print('# query: {}\n# gallery {}'.format(num_q, num_g))
    print("Saving images to '{}'".format(save_dir))
    mkdir_if_missing(save_dir)
    gallery_pids = np.array([pid for _, pid, _ in gallery])
    gallery_camids = np.array([camid for _, _, camid in gallery])
    used_folders = set()
    entries = []
    for q_index, (q_path, q_pid, q_camid) in enumerate(query):
        q_frames = _frames(q_path, data_type)
        folder = osp.basename(q_frames[0])
        if folder in used_folders:
            folder = '{}_q{}'.format(folder, q_index)
        used_folders.add(folder)
        q_dir = osp.join(save_dir, folder)
        mkdir_if_missing(q_dir)
        _copy_sample(q_frames, data_type, q_dir, 'query', 0)
        order = np.argsort(distmat[q_index], kind='stable')
        keep = ~((gallery_pids[order] == q_pid) & (gallery_camids[order] == q_camid))
        ranked = []
        for rank, g_index in enumerate(order[keep][:topk], start=1):
            g_frames = _frames(gallery[g_index][0], data_type)
            _copy_sample(g_frames, data_type, q_dir, 'gallery', rank)
            ranked.append((g_frames, gallery_pids[g_index] == q_pid))
        _draw_ranked_list(q_frames, ranked, osp.join(q_dir, PICTURE_NAME))
        entries.append((q_index, folder, q_pid, q_camid))
    index_path = _write_index(save_dir, entries, topk)
    print('Done')
    return index_path
